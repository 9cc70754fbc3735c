package pgstore

import (
	"fmt"
	"strings"

	"github.com/consequent/consequent/es"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Default schema names, used when a [Config] field is empty.
const (
	DefaultSchema     = "consequent"
	DefaultViewSchema = "consequent_views"
)

// Config names the PostgreSQL schemas pgstore works in. The zero value uses
// [DefaultSchema] and [DefaultViewSchema]. Names must be lower-case identifiers
// (letters, digits, underscores) and the two schemas must differ.
type Config struct {
	Schema     string // event-store schema, default "consequent"
	ViewSchema string // view tables schema, default "consequent_views"
}

// withDefaults returns cfg with empty fields defaulted, or an error when a name is
// not a valid identifier.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Schema == "" {
		cfg.Schema = DefaultSchema
	}
	if cfg.ViewSchema == "" {
		cfg.ViewSchema = DefaultViewSchema
	}
	if err := checkIdent("Config.Schema", cfg.Schema); err != nil {
		return cfg, err
	}
	if err := checkIdent("Config.ViewSchema", cfg.ViewSchema); err != nil {
		return cfg, err
	}
	if cfg.Schema == cfg.ViewSchema {
		return cfg, fmt.Errorf("pgstore: Config.Schema and Config.ViewSchema are both %q: view tables need a schema of their own", cfg.Schema)
	}
	return cfg, nil
}

// Store is the PostgreSQL [es.EventStore]. Build it with [New] on a pool whose
// database [Migrate] has prepared. A Store is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	commits es.CommitListeners // told of each commit, in this process
	cfg     Config
	sql     storeSQL
	psql    projectionSQL
	rsql    rebuildSQL
	ssql    scheduleSQL
	csql    commitSQL
	catalog *catalog // view-table definitions, shared by the store's Views
}

var _ es.EventStore = (*Store)(nil)

// New returns the store on pool, or the error of a Config with an invalid
// schema name.
func New(pool *pgxpool.Pool, cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Store{pool: pool, cfg: cfg, catalog: newCatalog(), sql: newStoreSQL(cfg.Schema),
		psql: newProjectionSQL(cfg.Schema), rsql: newRebuildSQL(cfg.Schema), ssql: newScheduleSQL(cfg.Schema), csql: newCommitSQL(cfg.Schema)}, nil
}

// Views returns the store's view tables on the pool: each call runs in its own
// transaction. Writes that must commit with events go through the inTx function
// of [Store.Commit] instead.
func (s *Store) Views() es.Persistor { return s.views(s.pool) }

func (s *Store) views(q Querier) *Views {
	return &Views{q: q, schema: s.cfg.ViewSchema, catalog: s.catalog}
}

// storeSQL holds the store's statements, with the schema filled in.
type storeSQL struct {
	lockStreams, deleteStream                                   string
	loadStream, streamInfo, readLog, loadSnapshot, commands     string
	heldKeys, importStreams, importCommand, upsertImportStreams string
	commandEvents                                               string
}

const eventColumns = `e.id, e.stream_id, s.type, e.version, e.position, e.xact_id, e.type, e.schema,
	e.data, e.time, e.command_id, e.correlation_id, e.causation_id, coalesce(e.user_id, ''), e.metadata`

func newStoreSQL(schema string) storeSQL {
	q := storeSQL{
		lockStreams:  `SELECT {{schema}}.lock_streams($1)`,
		deleteStream: `SELECT {{schema}}.delete_stream($1)`,
		// The stream's type is looked up once, by a subquery (an InitPlan), not
		// joined: on a large store the generic plan of the join looked the
		// stream up again for each event (at 10M events, 12 ms of server time
		// to load 1,000 events instead of 0.4 ms). Events have a stream row.
		loadStream: `SELECT ` + strings.Replace(eventColumns, "s.type",
			"(SELECT s.type FROM {{schema}}.streams s WHERE s.stream_id = $1)", 1) + `
			FROM {{schema}}.events e
			WHERE e.stream_id = $1 AND e.version BETWEEN $2 AND $3 AND e.time <= $4
			ORDER BY e.version`,
		streamInfo: `SELECT type, version FROM {{schema}}.streams WHERE stream_id = $1`,
		// A function, so that its plan always finds the streams by key
		// (migrations/004_read_log.sql).
		readLog: `SELECT * FROM {{schema}}.read_log($1, $2, $3)`,
		loadSnapshot: `SELECT n.version, n.data, s.type
			FROM {{schema}}.snapshots n JOIN {{schema}}.streams s ON s.stream_id = n.stream_id
			WHERE n.stream_id = $1 AND n.schema = $2 AND n.version <= $3
			ORDER BY n.version DESC LIMIT 1`,
		commands: `SELECT ` + commandColumns + ` FROM {{schema}}.commands c WHERE c.id = ANY($1)`,
		commandEvents: `SELECT ` + eventColumns + `
			FROM {{schema}}.commands c
			JOIN {{schema}}.events e ON e.xact_id = c.xact_id AND e.command_id = c.id
			JOIN {{schema}}.streams s ON s.stream_id = e.stream_id
			WHERE c.id = $1
			ORDER BY e.xact_id, e.position`,
		heldKeys: `SELECT u.scope, u.key, u.stream_id
			FROM {{schema}}.unique_keys u
			JOIN unnest($1::text[], $2::text[]) AS k(scope, key) ON u.scope = k.scope AND u.key = k.key`,
		importStreams: `SELECT stream_id, type, version FROM {{schema}}.streams WHERE stream_id = ANY($1)`,
		importCommand: `INSERT INTO {{schema}}.commands (id, type, data, time) VALUES ($1, $2, $3, $4)`,
		upsertImportStreams: `INSERT INTO {{schema}}.streams (stream_id, type, version)
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[])
			ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version`,
	}
	for _, p := range []*string{&q.lockStreams, &q.deleteStream, &q.loadStream, &q.streamInfo,
		&q.readLog, &q.loadSnapshot, &q.commands, &q.heldKeys, &q.importStreams, &q.importCommand,
		&q.upsertImportStreams, &q.commandEvents} {
		*p = withSchema(*p, schema)
	}
	return q
}

// OnCommit implements [es.CommitNotifier]: fn is called after each commit of
// this store value that succeeded.
func (s *Store) OnCommit(fn func()) (remove func()) { return s.commits.OnCommit(fn) }
