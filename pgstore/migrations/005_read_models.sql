-- Read models that change: the lock between the commits that write a
-- projector's tables inline and the swap of a rebuild, and a rebuild's status.
-- {{schema}} is replaced by the quoted schema name (Config.Schema).

-- What a status report shows of a rebuild under way.
ALTER TABLE {{schema}}.rebuilds
    ADD COLUMN total      bigint NOT NULL DEFAULT 0,
    ADD COLUMN phase      text NOT NULL DEFAULT '',
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN error      text NOT NULL DEFAULT '';

-- read_model_lock is the advisory lock of one read model (a projector): commits
-- that may write its tables inline hold it shared, the swap of its rebuild
-- exclusively. The two-key space does not overlap the streams' one-key locks.
CREATE FUNCTION {{schema}}.read_model_lock_key(p_name text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$ SELECT hashtext('{{schema}}.' || p_name) $$;

-- read_models locks the named read models in shared mode until the transaction
-- ends (in sorted order, so that lockers cannot deadlock), then returns their
-- serving versions in the order given (0: none recorded). The versions are read
-- by a statement that runs after the locks are granted, so they include a swap
-- that committed while this transaction waited for it.
CREATE FUNCTION {{schema}}.read_models(p_names text[]) RETURNS int[]
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n text;
    v int[];
BEGIN
    FOR n IN SELECT DISTINCT x FROM unnest(p_names) AS x ORDER BY x LOOP
        PERFORM pg_advisory_xact_lock_shared(1668247155, {{schema}}.read_model_lock_key(n));
    END LOOP;
    SELECT array_agg(coalesce(p.version, 0) ORDER BY o.i) INTO v
      FROM unnest(p_names) WITH ORDINALITY AS o(name, i)
      LEFT JOIN {{schema}}.projections p ON p.name = o.name;
    RETURN coalesce(v, '{}');
END
$$;
