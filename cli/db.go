package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/consequent/consequent/pgstore"
)

func (a *app) dbCommand() *cobra.Command {
	create := &cobra.Command{
		Use:   "create",
		Short: "Create the database the URL names, when it does not exist",
		Args:  exactArgs(0),
		RunE:  a.dbCreate,
	}
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the event store's pending migrations",
		Args:  exactArgs(0),
		RunE:  a.dbMigrate,
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the database and its applied and pending migrations",
		Args:  exactArgs(0),
	}
	asJSON := jsonFlag(status)
	status.RunE = func(c *cobra.Command, _ []string) error { return a.dbStatus(c, *asJSON) }
	return group("db", "Create the database and migrate the event store's schema", create, migrate, status)
}

// dbCreate creates the database from a maintenance database on the same server.
func (a *app) dbCreate(c *cobra.Command, _ []string) error {
	ctx := c.Context()
	cfg, err := a.poolConfig()
	if err != nil {
		return err
	}
	name := cfg.ConnConfig.Database
	if name == "" {
		return misuse("--database-url names no database")
	}
	var conn *pgx.Conn
	for _, maintenance := range []string{"postgres", "template1"} {
		admin := cfg.ConnConfig.Copy()
		admin.Database = maintenance
		if conn, err = pgx.ConnectConfig(ctx, admin); !isCode(err, "3D000") {
			break
		}
	}
	if err != nil {
		return failure("connect to the server: %v", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return failure("look for database %q: %v", name, err)
	}
	if !exists {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		switch {
		case isCode(err, "42P04"): // created meanwhile
		case err != nil:
			return failure("create database %q: %v", name, err)
		default:
			fmt.Fprintf(c.OutOrStdout(), "created database %q\n", name)
			return nil
		}
	}
	fmt.Fprintf(c.OutOrStdout(), "database %q exists\n", name)
	return nil
}

func isCode(err error, code string) bool {
	pe, ok := errors.AsType[*pgconn.PgError](err)
	return ok && pe.Code == code
}

// dbMigrate applies pgstore's pending migrations and says which.
func (a *app) dbMigrate(c *cobra.Command, _ []string) error {
	ctx := c.Context()
	e, err := a.open(ctx, false)
	if err != nil {
		return err
	}
	defer e.close()
	before, err := pgstore.Migrations(ctx, e.pool, a.cfg)
	if err != nil {
		return failure("%v", err)
	}
	if err := pgstore.Migrate(ctx, e.pool, a.cfg); err != nil {
		return failure("%v", err)
	}
	after, err := pgstore.Migrations(ctx, e.pool, a.cfg)
	if err != nil {
		return failure("%v", err)
	}
	out := c.OutOrStdout()
	applied := 0
	for i, m := range after {
		if before[i].Applied.IsZero() && !m.Applied.IsZero() {
			fmt.Fprintf(out, "applied %s\n", m.Name)
			applied++
		}
	}
	if applied == 0 {
		fmt.Fprintf(out, "the event store in database %q is up to date (%s), nothing to apply\n", e.db, count(int64(len(after)), "migration"))
		return nil
	}
	fmt.Fprintf(out, "the event store in database %q is up to date (%s)\n", e.db, count(int64(len(after)), "migration"))
	return nil
}

// dbStatusJSON is what db status --json prints.
type dbStatusJSON struct {
	Database   string          `json:"database"`
	Host       string          `json:"host"`
	Port       uint16          `json:"port"`
	Server     string          `json:"server_version"`
	Schema     string          `json:"schema"`
	ViewSchema string          `json:"view_schema"`
	Applied    int             `json:"applied"`
	Pending    int             `json:"pending"`
	Migrations []migrationJSON `json:"migrations"`
}

type migrationJSON struct {
	Version int        `json:"version"`
	Name    string     `json:"name"`
	Applied *time.Time `json:"applied"` // null while pending
}

func (a *app) dbStatus(c *cobra.Command, asJSON bool) error {
	ctx := c.Context()
	e, err := a.open(ctx, false)
	if err != nil {
		return err
	}
	defer e.close()
	ms, err := pgstore.Migrations(ctx, e.pool, a.cfg)
	if err != nil {
		return failure("%v", err)
	}
	var server string
	if err := e.pool.QueryRow(ctx, `SELECT split_part(current_setting('server_version'), ' ', 1)`).Scan(&server); err != nil {
		return failure("read the server's version: %v", err)
	}
	cc := e.pool.Config().ConnConfig
	schema, views := a.cfg.Schema, a.cfg.ViewSchema
	if schema == "" {
		schema = pgstore.DefaultSchema
	}
	if views == "" {
		views = pgstore.DefaultViewSchema
	}
	st := dbStatusJSON{Database: e.db, Host: cc.Host, Port: cc.Port, Server: server, Schema: schema, ViewSchema: views,
		Migrations: []migrationJSON{}}
	for _, m := range ms {
		mj := migrationJSON{Version: m.Version, Name: m.Name}
		if !m.Applied.IsZero() {
			mj.Applied = &m.Applied
			st.Applied++
		} else {
			st.Pending++
		}
		st.Migrations = append(st.Migrations, mj)
	}
	out := c.OutOrStdout()
	if asJSON {
		return printJSON(out, st)
	}
	fmt.Fprintf(out, "database    %s on %s:%d (PostgreSQL %s)\n", st.Database, st.Host, st.Port, st.Server)
	fmt.Fprintf(out, "schemas     %s (events), %s (view tables)\n", st.Schema, st.ViewSchema)
	fmt.Fprintf(out, "migrations  %d applied, %d pending", st.Applied, st.Pending)
	if st.Pending > 0 {
		fmt.Fprintf(out, ": run %s db migrate", a.name)
	}
	fmt.Fprint(out, "\n\n")
	t := table(out)
	fmt.Fprintln(t, "VERSION\tMIGRATION\tAPPLIED")
	for _, m := range ms {
		applied := "pending"
		if !m.Applied.IsZero() {
			applied = timeText(m.Applied)
		}
		fmt.Fprintf(t, "%d\t%s\t%s\n", m.Version, m.Name, applied)
	}
	return t.Flush()
}
