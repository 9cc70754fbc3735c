-- The event store: commands, streams, events, unique keys and snapshots.
-- {{schema}} is replaced by the quoted schema name (Config.Schema).

-- Every executed command: the audit trail. Events reference it by command_id.
CREATE TABLE {{schema}}.commands (
    id             uuid PRIMARY KEY,
    type           text NOT NULL,
    data           jsonb,
    time           timestamptz NOT NULL,
    user_id        text,
    correlation_id uuid,
    causation_id   uuid,
    metadata       jsonb,
    xact_id        xid8 NOT NULL DEFAULT pg_current_xact_id()
);

-- One row per stream (aggregate): its type and current version. Appends check
-- their expected version against it under the stream's advisory lock.
CREATE TABLE {{schema}}.streams (
    stream_id uuid PRIMARY KEY,
    type      text NOT NULL,
    version   bigint NOT NULL
);

-- The events. A stream's history is its primary key order; the global log is
-- (xact_id, position) order, read only below the snapshot xmin.
CREATE TABLE {{schema}}.events (
    stream_id      uuid NOT NULL,
    version        bigint NOT NULL,
    position       bigint GENERATED ALWAYS AS IDENTITY,
    xact_id        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    id             uuid NOT NULL,
    command_id     uuid NOT NULL,
    type           text NOT NULL,
    schema         integer NOT NULL,
    data           jsonb,
    time           timestamptz NOT NULL,
    correlation_id uuid,
    causation_id   uuid,
    user_id        text,
    metadata       jsonb,
    CONSTRAINT events_pkey PRIMARY KEY (stream_id, version)
);
CREATE UNIQUE INDEX events_log ON {{schema}}.events (xact_id, position);

-- A stream holds at most one key per scope; a key has at most one holder.
CREATE TABLE {{schema}}.unique_keys (
    stream_id uuid NOT NULL,
    scope     text NOT NULL,
    key       text NOT NULL,
    CONSTRAINT unique_keys_pkey PRIMARY KEY (stream_id, scope),
    CONSTRAINT unique_keys_claim UNIQUE (scope, key)
);

CREATE TABLE {{schema}}.snapshots (
    stream_id uuid NOT NULL,
    schema    integer NOT NULL,
    version   bigint NOT NULL,
    data      bytea,
    CONSTRAINT snapshots_pkey PRIMARY KEY (stream_id, schema, version)
);

-- lock_streams takes the transaction-scoped advisory lock of every stream, in
-- ascending id order, so that concurrent writers cannot deadlock. Writers call it
-- before their first write: then a stream's versions also commit in xact_id order.
CREATE FUNCTION {{schema}}.lock_streams(p_ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    s uuid;
BEGIN
    FOR s IN SELECT DISTINCT x FROM unnest(p_ids) AS x ORDER BY x LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended(s::text, 7120));
    END LOOP;
END
$$;

-- commit writes one unit of work: the command, the events of every stream, the
-- streams' versions, unique keys and snapshots. The s_ arrays describe the
-- streams, k_ their unique keys (replaced for the streams whose s_set_keys is
-- true), e_ the events and n_ the snapshots. It returns the transaction's id and
-- the events' positions in the order of the e_ arrays.
--
-- A stale expected version or a stream of another type raises SQLSTATE CQ001.
CREATE FUNCTION {{schema}}.commit(
    c_id uuid, c_type text, c_data jsonb, c_time timestamptz, c_user text,
    c_correlation uuid, c_causation uuid, c_metadata jsonb,
    s_ids uuid[], s_types text[], s_expected bigint[], s_counts bigint[], s_set_keys boolean[],
    k_streams uuid[], k_scopes text[], k_keys text[],
    e_streams uuid[], e_versions bigint[], e_ids uuid[], e_commands uuid[], e_types text[],
    e_schemas integer[], e_data jsonb[], e_times timestamptz[], e_correlations uuid[],
    e_causations uuid[], e_users text[], e_metadata jsonb[],
    n_streams uuid[], n_versions bigint[], n_schemas integer[], n_data bytea[])
RETURNS TABLE (xact_id xid8, positions bigint[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    bad record;
BEGIN
    PERFORM {{schema}}.lock_streams(s_ids);

    SELECT w.id, w.type AS want_type, w.expected, s.type AS stored_type,
           coalesce(s.version, 0) AS stored
      INTO bad
      FROM unnest(s_ids, s_types, s_expected) AS w(id, type, expected)
      LEFT JOIN {{schema}}.streams s ON s.stream_id = w.id
     WHERE coalesce(s.version, 0) <> w.expected OR s.type <> w.type
     LIMIT 1;
    IF FOUND THEN
        IF bad.stored_type <> bad.want_type THEN
            RAISE EXCEPTION 'stream % is a %, not a %', bad.id, bad.stored_type, bad.want_type
                USING ERRCODE = 'CQ001';
        END IF;
        RAISE EXCEPTION 'stream %: expected version %, stored %', bad.id, bad.expected, bad.stored
            USING ERRCODE = 'CQ001';
    END IF;

    -- A command id is new for every unit of work; a clash is a bug, never overwritten.
    INSERT INTO {{schema}}.commands
           (id, type, data, time, user_id, correlation_id, causation_id, metadata)
    VALUES (c_id, c_type, c_data, c_time, nullif(c_user, ''), c_correlation, c_causation, c_metadata);

    INSERT INTO {{schema}}.streams AS s (stream_id, type, version)
    SELECT w.id, w.type, w.expected + w.n
      FROM unnest(s_ids, s_types, s_expected, s_counts) AS w(id, type, expected, n)
    ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version;

    IF true = ANY (s_set_keys) THEN
        DELETE FROM {{schema}}.unique_keys u
         USING unnest(s_ids, s_set_keys) AS w(id, set_keys)
         WHERE w.set_keys AND u.stream_id = w.id;
        INSERT INTO {{schema}}.unique_keys (stream_id, scope, key)
        SELECT * FROM unnest(k_streams, k_scopes, k_keys);
    END IF;

    IF cardinality(n_streams) > 0 THEN
        INSERT INTO {{schema}}.snapshots (stream_id, schema, version, data)
        SELECT * FROM unnest(n_streams, n_schemas, n_versions, n_data)
        ON CONFLICT DO NOTHING;
    END IF;

    RETURN QUERY
    WITH ins AS (
        INSERT INTO {{schema}}.events
               (stream_id, version, id, command_id, type, schema, data, time,
                correlation_id, causation_id, user_id, metadata)
        SELECT e.stream_id, e.version, e.id, e.command_id, e.type, e.schema, e.data, e.time,
               e.correlation_id, e.causation_id, nullif(e.user_id, ''), e.metadata
          FROM unnest(e_streams, e_versions, e_ids, e_commands, e_types, e_schemas, e_data,
                      e_times, e_correlations, e_causations, e_users, e_metadata)
               WITH ORDINALITY AS e(stream_id, version, id, command_id, type, schema, data,
                                    time, correlation_id, causation_id, user_id, metadata, ord)
         ORDER BY e.ord
        RETURNING events.stream_id, events.version, events.position
    )
    SELECT pg_current_xact_id(),
           coalesce(array_agg(ins.position ORDER BY o.ord), '{}')
      FROM ins
      JOIN unnest(e_streams, e_versions) WITH ORDINALITY AS o(stream_id, version, ord)
        ON o.stream_id = ins.stream_id AND o.version = ins.version;
END
$$;

-- delete_stream removes a stream for good: events, snapshots, unique keys and
-- the stream row. Commands stay (they may concern other streams too).
CREATE FUNCTION {{schema}}.delete_stream(p_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM {{schema}}.lock_streams(ARRAY[p_id]);
    DELETE FROM {{schema}}.events WHERE stream_id = p_id;
    DELETE FROM {{schema}}.snapshots WHERE stream_id = p_id;
    DELETE FROM {{schema}}.unique_keys WHERE stream_id = p_id;
    DELETE FROM {{schema}}.streams WHERE stream_id = p_id;
END
$$;
