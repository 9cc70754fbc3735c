-- Reactions: commands scheduled for later. Durable workflows and subscriptions
-- keep their checkpoints and leases in projections (002), like async
-- projectors; the commands table's primary key is what makes a command that a
-- workflow issues twice take effect once.
-- {{schema}} is replaced by the quoted schema name (Config.Schema).

-- A command to execute once due. id becomes the command's id when it runs, so
-- that it runs once whatever the retries; key is what scheduling again replaces
-- and what a cancel names. error is set while it is parked after failing.
CREATE TABLE {{schema}}.scheduled_commands (
    id             uuid PRIMARY KEY,
    key            text NOT NULL,
    due            timestamptz NOT NULL,
    type           text NOT NULL,
    data           jsonb,
    user_id        text,
    correlation_id uuid,
    causation_id   uuid,
    metadata       jsonb,
    error          text NOT NULL DEFAULT '',
    CONSTRAINT scheduled_commands_key UNIQUE (key)
);
CREATE INDEX scheduled_commands_due ON {{schema}}.scheduled_commands (due, id) WHERE error = '';

-- schedule changes the scheduled commands: it removes the one whose command
-- ran (p_done: a scheduled command's commit), those under the keys p_cancel,
-- then stores the s_ commands, each replacing the one under its key. Commits
-- call it in their transaction, after commit().
CREATE FUNCTION {{schema}}.schedule(p_done uuid, p_cancel text[],
    s_ids uuid[], s_keys text[], s_dues timestamptz[], s_types text[], s_data jsonb[],
    s_users text[], s_correlations uuid[], s_causations uuid[], s_metadata jsonb[])
RETURNS void
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    IF p_done IS NOT NULL THEN
        DELETE FROM {{schema}}.scheduled_commands WHERE id = p_done;
    END IF;
    IF cardinality(p_cancel) > 0 THEN
        DELETE FROM {{schema}}.scheduled_commands WHERE key = ANY (p_cancel);
    END IF;
    IF cardinality(s_ids) > 0 THEN
        INSERT INTO {{schema}}.scheduled_commands AS c
               (id, key, due, type, data, user_id, correlation_id, causation_id, metadata)
        SELECT x.id, x.key, x.due, x.type, x.data, nullif(x.user_id, ''), x.correlation_id, x.causation_id, x.metadata
          FROM unnest(s_ids, s_keys, s_dues, s_types, s_data, s_users, s_correlations, s_causations, s_metadata)
               AS x(id, key, due, type, data, user_id, correlation_id, causation_id, metadata)
        ON CONFLICT (key) DO UPDATE
           SET id = EXCLUDED.id, due = EXCLUDED.due, type = EXCLUDED.type, data = EXCLUDED.data,
               user_id = EXCLUDED.user_id, correlation_id = EXCLUDED.correlation_id,
               causation_id = EXCLUDED.causation_id, metadata = EXCLUDED.metadata, error = '';
    END IF;
END
$$;
