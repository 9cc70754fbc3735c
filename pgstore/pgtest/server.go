package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/onsi/ginkgo/v2"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
)

// server is a PostgreSQL server pgtest may create databases on.
type server struct {
	adminDSN  string // connects to a maintenance database (e.g. postgres) as a CREATEDB role
	source    string
	container testcontainers.Container // nil unless pgtest started it
}

// ContainerLabel marks the containers pgtest starts, so that leftovers of killed
// test processes can be found: docker ps -aq --filter label=org.consequent.pgtest
const ContainerLabel = "org.consequent.pgtest"

// findServer returns the server from EnvDatabaseURL, else starts a container, else
// returns an error wrapping ErrNoDatabase that says how to get a server.
func findServer(ctx context.Context) (*server, error) {
	if dsn := os.Getenv(EnvDatabaseURL); dsn != "" {
		// Asked for by name: a server that does not answer is a failure, not a skip.
		if err := ping(ctx, dsn); err != nil {
			return nil, fmt.Errorf("pgtest: %s is set but the server does not answer (%s): %w", EnvDatabaseURL, redact(dsn), err)
		}
		return &server{adminDSN: dsn, source: EnvDatabaseURL}, nil
	}
	image := os.Getenv(EnvImage)
	if image == "" {
		image = DefaultImage
	}
	s, err := startContainer(ctx, image)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is unset and a container of image %s could not be started: %v\n"+
			"To run them, either set %s to a server whose role may create databases, e.g.\n"+
			"  export %s='postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable'\n"+
			"  (make db starts one), or start a container engine (docker) that can run image %s\n"+
			"  (choose the image with %s; set TESTCONTAINERS_RYUK_DISABLED=true when the engine cannot pull the reaper image)",
			ErrNoDatabase, EnvDatabaseURL, image, err, EnvDatabaseURL, EnvDatabaseURL, image, EnvImage)
	}
	return s, nil
}

// Container settings: the official postgres image's contract.
const (
	containerUser     = "postgres"
	containerPassword = "postgres"
	containerPort     = "5432/tcp"
)

// startContainer starts a PostgreSQL container tuned for tests (no fsync: the data
// dies with the container anyway) and waits until it accepts connections.
func startContainer(ctx context.Context, image string) (s *server, err error) {
	tclog.SetDefault(writerLogger{}) // its banner too: to the GinkgoWriter
	defer func() {
		// testcontainers panics when it cannot find a docker host at all.
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("no container engine: %v", r)
		}
	}()
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        image,
			ExposedPorts: []string{containerPort},
			Env: map[string]string{
				"POSTGRES_USER":     containerUser,
				"POSTGRES_PASSWORD": containerPassword,
				"POSTGRES_DB":       "postgres",
				"PGDATA":            "/var/lib/postgresql/tmpfs/data",
			},
			Cmd: []string{"postgres",
				"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
				"-c", "max_connections=200"},
			Labels: map[string]string{ContainerLabel: "1"},
			// Data in memory: creating, truncating and dropping are file operations,
			// slow on a container's overlay filesystem. The tmpfs is world-writable
			// so that PGDATA below it can be created by any image's postgres user.
			Tmpfs: map[string]string{"/var/lib/postgresql/tmpfs": "rw,mode=1777"},
			// The official image's entrypoint starts a temporary server for its init
			// scripts first: the second "ready" line is the real one. The port is
			// checked inside the container; containerDSN checks it from here, where
			// the address testcontainers guesses may be wrong.
			WaitingFor: wait.ForAll(
				wait.ForLog("database system is ready to accept connections").WithOccurrence(2),
				wait.ForListeningPort(containerPort).SkipExternalCheck(),
			).WithDeadline(90 * time.Second),
		},
		Started: true,
		Logger:  writerLogger{},
	})
	if err != nil {
		if c != nil {
			_ = testcontainers.TerminateContainer(c)
		}
		return nil, err
	}
	dsn, err := containerDSN(ctx, c)
	if err != nil {
		_ = testcontainers.TerminateContainer(c)
		return nil, err
	}
	return &server{adminDSN: dsn, source: "container " + image, container: c}, nil
}

// containerDSN finds an address of the container's port that answers. The host
// testcontainers reports can be unreachable when the test itself runs in a
// container (it guesses the default gateway); 127.0.0.1 is tried next.
func containerDSN(ctx context.Context, c testcontainers.Container) (string, error) {
	port, err := c.MappedPort(ctx, containerPort)
	if err != nil {
		return "", err
	}
	host, err := c.Host(ctx)
	if err != nil {
		return "", err
	}
	var errs []error
	for _, h := range []string{host, "127.0.0.1"} {
		u := url.URL{
			Scheme:   "postgres",
			User:     url.UserPassword(containerUser, containerPassword),
			Host:     net.JoinHostPort(h, port.Port()),
			Path:     "/postgres",
			RawQuery: "sslmode=disable",
		}
		dsn := u.String()
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := ping(pctx, dsn)
		cancel()
		if err == nil {
			return dsn, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", u.Host, err))
		if h == "127.0.0.1" {
			break
		}
	}
	return "", fmt.Errorf("container started but does not answer (set TESTCONTAINERS_HOST_OVERRIDE?): %w", errors.Join(errs...))
}

func (s *server) close(ctx context.Context) error {
	if s.container == nil {
		return nil
	}
	if err := testcontainers.TerminateContainer(s.container, testcontainers.StopContext(ctx)); err != nil {
		return fmt.Errorf("pgtest: stopping container: %w", err)
	}
	return nil
}

func ping(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.Ping(ctx)
}

// redact hides the password of a DSN for messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return "the DSN"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// writerLogger sends testcontainers' chatter to the GinkgoWriter: shown with -v or
// when a spec fails, not otherwise.
type writerLogger struct{}

func (writerLogger) Printf(format string, v ...any) {
	fmt.Fprintf(ginkgo.GinkgoWriter, "testcontainers: "+format+"\n", v...)
}
