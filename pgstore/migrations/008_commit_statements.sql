-- A commit is no longer one call of commit() but a few plain statements sent in
-- one pipeline (pgstore/commit_sql.go): PL/pgSQL ran each of its statements
-- through SPI, and commit() with its nested lock_streams() and RETURN QUERY took
-- 0.32 ms of server time where the same statements sent as a pipeline take
-- 0.26 ms (pgbench, one client, 4 events). commit() and read_models() stay for
-- processes of an older version during a rolling deploy.
-- {{schema}} is replaced by the quoted schema name (Config.Schema).

-- commit_conflict raises the error of a stream whose stored version or type is
-- not what a commit expects (SQLSTATE CQ001). The commit's check statement calls
-- it only for such a stream: a commit that holds runs no PL/pgSQL.
CREATE FUNCTION {{schema}}.commit_conflict(p_id uuid, p_want_type text, p_expected bigint,
                                           p_stored_type text, p_stored bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_stored_type <> p_want_type THEN
        RAISE EXCEPTION 'stream % is a %, not a %', p_id, p_stored_type, p_want_type
            USING ERRCODE = 'CQ001';
    END IF;
    RAISE EXCEPTION 'stream %: expected version %, stored %', p_id, p_expected, p_stored
        USING ERRCODE = 'CQ001';
END
$$;
