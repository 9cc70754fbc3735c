package pgstore

// The statements of a commit, sent in one pipeline (one round trip). Without a
// view write in between they form one implicit transaction (PostgreSQL commits
// at the pipeline's Sync); with inTx they follow a BEGIN. Every statement gets
// its own snapshot, so each reads what the locks before it let commit.
//
//  0. plans: sequential scans off, so that the statements' plans stay on the
//     primary keys however small the tables were when they were planned (see
//     migrations/003_key_plans.sql), and generic plans: the statements unnest
//     array parameters, whose length a generic plan does not know, so
//     PostgreSQL would otherwise plan them anew on every execution (measured:
//     0.14 ms of planning for the read models' statement, 0.07 ms for the
//     locks', per commit). It has no parameters, so it is planned once itself.
//     With inTx, a last statement sets both back to what they were, for the
//     view writes that follow.
//  1. lock: the streams' advisory locks in ascending id order (writers cannot
//     deadlock, and a stream's versions commit in xact_id order), then the
//     read models' shared locks (a swap holds them exclusively).
//  2. write: the command, the streams' versions and the events, one statement,
//     returning the events' positions and the transaction id. It checks each
//     stream's stored version and type against the expected ones as it writes
//     the new version, before it inserts the first event: commit_conflict()
//     raises SQLSTATE CQ001 for one that differs, which undoes the whole
//     transaction.
//  3. unique keys and snapshots, when the commit has any.
//  4. read models: the serving versions, counting a skipped commit.
const (
	commitPlansSQL = `SELECT set_config('consequent.enable_seqscan', current_setting('enable_seqscan'), true),
	       set_config('consequent.plan_cache_mode', current_setting('plan_cache_mode'), true),
	       set_config('enable_seqscan', 'off', true),
	       set_config('plan_cache_mode', 'force_generic_plan', true)`

	commitLockSQL = `SELECT count(l) FROM (
		SELECT pg_advisory_xact_lock(hashtextextended(x::text, 7120)) AS l
		  FROM (SELECT DISTINCT x FROM unnest($1::uuid[]) AS x ORDER BY x) AS s
		UNION ALL
		SELECT pg_advisory_xact_lock_shared(1668247155, {{schema}}.read_model_lock_key(n))
		  FROM (SELECT DISTINCT n FROM unnest($2::text[]) AS n ORDER BY n) AS r
	) AS locks`

	commitDropKeysSQL = `DELETE FROM {{schema}}.unique_keys u
		 USING unnest($1::uuid[]) AS w(id) WHERE u.stream_id = w.id`

	commitAddKeysSQL = `INSERT INTO {{schema}}.unique_keys (stream_id, scope, key)
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])`

	commitSnapshotsSQL = `INSERT INTO {{schema}}.snapshots (stream_id, schema, version, data)
		SELECT * FROM unnest($1::uuid[], $2::int[], $3::bigint[], $4::bytea[])
		ON CONFLICT DO NOTHING`

	commitWriteSQL = `WITH command AS (
		INSERT INTO {{schema}}.commands (id, type, data, time, user_id, correlation_id, causation_id, metadata)
		VALUES ($1, $2, $3, $4, nullif($5, ''), $6, $7, $8)
	), versions AS (
		INSERT INTO {{schema}}.streams (stream_id, type, version)
		SELECT w.id, w.type, w.expected + w.n
		  FROM unnest($9::uuid[], $10::text[], $11::bigint[], $12::bigint[]) AS w(id, type, expected, n)
		  LEFT JOIN {{schema}}.streams stored ON stored.stream_id = w.id
		 WHERE (coalesce(stored.version, 0) = w.expected AND coalesce(stored.type, w.type) = w.type)
		    OR {{schema}}.commit_conflict(w.id, w.type, w.expected, stored.type, coalesce(stored.version, 0)) IS NOT NULL
		ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version
		RETURNING 1
	)
	INSERT INTO {{schema}}.events (stream_id, version, id, command_id, type, schema, data, time,
	                               correlation_id, causation_id, user_id, metadata)
	SELECT e.stream_id, e.version, e.id, $1, e.type, e.schema, e.data, e.time,
	       e.correlation_id, e.causation_id, nullif(e.user_id, ''), e.metadata
	  FROM unnest($13::uuid[], $14::bigint[], $15::uuid[], $16::text[], $17::int[], $18::jsonb[],
	              $19::timestamptz[], $20::uuid[], $21::uuid[], $22::text[], $23::jsonb[])
	       WITH ORDINALITY AS e(stream_id, version, id, type, schema, data, time,
	                            correlation_id, causation_id, user_id, metadata, ord),
	       (SELECT count(*) FROM versions) AS checked -- every stream, before the first event
	 ORDER BY e.ord
	RETURNING xact_id, stream_id, version, position`

	commitRestoreSQL = `SELECT set_config('enable_seqscan', current_setting('consequent.enable_seqscan'), true),
	       set_config('plan_cache_mode', current_setting('consequent.plan_cache_mode'), true)`

	commitReadModelsSQL = `WITH v AS (
		SELECT o.i, o.name, o.mine, coalesce(p.version, 0) AS served
		  FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS o(name, mine, i)
		  LEFT JOIN {{schema}}.projections p ON p.name = o.name
	), skipped AS (
		UPDATE {{schema}}.projections p SET skipped = p.skipped + 1, skipped_at = now()
		  FROM v WHERE p.name = v.name AND v.served > v.mine
	)
	SELECT coalesce(array_agg(served ORDER BY i), '{}') FROM v`
)

// commitSQL holds the commit's statements, with the schema filled in.
type commitSQL struct {
	plans, lock, dropKeys, addKeys, snapshots, write, restore, readModels string
}

func newCommitSQL(schema string) commitSQL {
	q := commitSQL{plans: commitPlansSQL, lock: commitLockSQL, dropKeys: commitDropKeysSQL,
		addKeys: commitAddKeysSQL, snapshots: commitSnapshotsSQL, write: commitWriteSQL,
		restore: commitRestoreSQL, readModels: commitReadModelsSQL}
	for _, p := range []*string{&q.plans, &q.lock, &q.dropKeys, &q.addKeys, &q.snapshots, &q.write, &q.restore, &q.readModels} {
		*p = withSchema(*p, schema)
	}
	return q
}
