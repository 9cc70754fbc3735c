-- Read models that change: the lock between the commits that write a
-- projector's tables inline and the swap of a rebuild, and a rebuild's status.
-- {{schema}} is replaced by the quoted schema name (Config.Schema).

-- What a status report shows of a rebuild under way.
ALTER TABLE {{schema}}.rebuilds
    ADD COLUMN total      bigint NOT NULL DEFAULT 0,
    ADD COLUMN phase      text NOT NULL DEFAULT '',
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN error      text NOT NULL DEFAULT '';

-- Commits of an older version of an inline projector, made after a newer
-- version's tables were swapped in, do not write them: they count here, and a
-- process of the newer version rebuilds the tables once they stop.
ALTER TABLE {{schema}}.projections
    ADD COLUMN skipped    bigint NOT NULL DEFAULT 0,
    ADD COLUMN skipped_at timestamptz;

-- read_model_lock is the advisory lock of one read model (a projector): commits
-- that may write its tables inline hold it shared, the swap of its rebuild
-- exclusively. The two-key space does not overlap the streams' one-key locks.
CREATE FUNCTION {{schema}}.read_model_lock_key(p_name text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$ SELECT hashtext('{{schema}}.' || p_name) $$;

-- read_models locks the named read models in shared mode until the transaction
-- ends (in sorted order, so that lockers cannot deadlock), then returns their
-- serving versions in the order given (0: none recorded). The versions are read
-- by a statement that runs after the locks are granted, so they include a swap
-- that committed while this transaction waited for it. p_versions are the
-- committing program's versions: where a newer one serves, the commit is
-- counted as skipped.
CREATE FUNCTION {{schema}}.read_models(p_names text[], p_versions int[]) RETURNS int[]
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
    IF EXISTS (SELECT FROM unnest(v, p_versions) AS x(served, mine) WHERE served > mine) THEN
        UPDATE {{schema}}.projections p SET skipped = p.skipped + 1, skipped_at = now()
          FROM unnest(p_names, v, p_versions) AS x(name, served, mine)
         WHERE p.name = x.name AND x.served > x.mine;
    END IF;
    RETURN coalesce(v, '{}');
END
$$;
