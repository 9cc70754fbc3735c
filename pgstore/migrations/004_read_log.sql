-- read_log returns the global log after (p_xact_id, p_position) and below the
-- snapshot-xmin watermark, in (xact_id, position) order, at most p_limit events
-- (NULL: all), each with its stream's type; with p_parts, only the events of
-- streams whose id ends in one of those bytes (a partition of a projector).
-- It is a function for its plan's sake, like commit() (see 003): as a plain
-- statement, a plan made while a new store was empty joined the streams by
-- scanning them all, on every read of every follower, until the next ANALYZE.
-- Here the log is walked along its index and the streams are looked up by key.
CREATE FUNCTION {{schema}}.read_log(p_xact_id xid8, p_position bigint, p_limit bigint,
                                    p_parts int[] DEFAULT NULL)
RETURNS TABLE (id uuid, stream_id uuid, stream_type text, version bigint, "position" bigint,
               xact_id xid8, type text, schema integer, data jsonb, "time" timestamptz,
               command_id uuid, correlation_id uuid, causation_id uuid, user_id text,
               metadata jsonb)
LANGUAGE plpgsql STABLE SET enable_seqscan = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT e.id, e.stream_id, s.type, e.version, e.position, e.xact_id, e.type, e.schema,
           e.data, e.time, e.command_id, e.correlation_id, e.causation_id,
           coalesce(e.user_id, ''), e.metadata
      FROM {{schema}}.events e
      JOIN {{schema}}.streams s ON s.stream_id = e.stream_id
     WHERE (e.xact_id, e.position) > (p_xact_id, p_position)
       AND e.xact_id < pg_snapshot_xmin(pg_current_snapshot())
       AND (p_parts IS NULL OR get_byte(uuid_send(e.stream_id), 15) = ANY (p_parts))
     ORDER BY e.xact_id, e.position
     LIMIT p_limit;
END
$$;
