-- Async projections: checkpoints, leases and failures; rebuilds in progress.
-- {{schema}} is replaced by the quoted schema name (Config.Schema).

-- One row per async projection (or partition of one). The checkpoint is the
-- last event applied, as (xact_id, position); version is the projector version
-- the tables were built with. owner holds the lease until lease_until (the
-- database's clock); lease_ttl is the length it was last taken for, so a long
-- rebuild can renew it. Checkpoint writes are fenced by owner and lease_until.
CREATE TABLE {{schema}}.projections (
    name            text PRIMARY KEY,
    xact_id         xid8 NOT NULL DEFAULT '0',
    position        bigint NOT NULL DEFAULT 0,
    version         integer NOT NULL DEFAULT 0,
    owner           text,
    lease_until     timestamptz,
    lease_ttl       interval,
    failed          boolean NOT NULL DEFAULT false,
    failed_xact_id  xid8 NOT NULL DEFAULT '0',
    failed_position bigint NOT NULL DEFAULT 0,
    error           text NOT NULL DEFAULT ''
);

-- A rebuild in progress: the shadow tables hold the log up to (xact_id,
-- position), done events; an interrupted rebuild of the same version resumes
-- from there. The row goes when the shadow tables are swapped in.
CREATE TABLE {{schema}}.rebuilds (
    projector  text PRIMARY KEY,
    version    integer NOT NULL,
    xact_id    xid8 NOT NULL DEFAULT '0',
    position   bigint NOT NULL DEFAULT 0,
    done       bigint NOT NULL DEFAULT 0,
    started_at timestamptz NOT NULL DEFAULT now()
);
