package natspub_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestNatspub(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "natspub")
}

// The specs' NATS server: embedded, in this process, with JetStream.
var (
	srv *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
)

var _ = BeforeSuite(func() {
	var err error
	srv, err = startServer(GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	nc, err = nats.Connect(srv.ClientURL())
	Expect(err).NotTo(HaveOccurred())
	js, err = jetstream.New(nc)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
	})
})

// startServer starts an embedded nats-server with JetStream on a free port of
// the loopback interface.
func startServer(dir string) (*server.Server, error) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		return nil, err
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		return nil, errNotReady
	}
	return s, nil
}

type notReady struct{}

func (notReady) Error() string {
	return "natspub specs: the embedded nats-server did not start within 10s"
}

var errNotReady error = notReady{}
