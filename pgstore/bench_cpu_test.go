package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Where a benchmark's time goes, as CPU time per operation: client-µs/op is
// this process's (user and system, garbage collection included), server-µs/op
// that of the PostgreSQL backends of the benchmarks' database. Wall time on a
// shared machine drifts with its load; CPU time per operation hardly does, so
// these two say whether a gap to raw pgx is the client's or the server's.
// server-µs/op is reported only when the server runs on this machine (its
// backends' /proc entries name the database), not in a container.

// cpuSample is the CPU time spent so far by this process and by each backend.
type cpuSample struct {
	client   time.Duration
	backends map[int]time.Duration // nil: the server is not on this machine
}

// clockTick is the unit of /proc/<pid>/stat's times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

func sampleCPU(ctx context.Context, pool *pgxpool.Pool) cpuSample {
	var s cpuSample
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.client = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var db string
	var pids []int32
	err := pool.QueryRow(ctx, `SELECT current_database(), array_agg(pid) FROM pg_stat_activity
		WHERE datname = current_database()`).Scan(&db, &pids)
	if err != nil {
		return s
	}
	s.backends = map[int]time.Duration{}
	for _, pid := range pids {
		t, ok, gone := backendCPU(int(pid), db)
		switch {
		case gone: // exited since pg_stat_activity listed it
		case !ok:
			return cpuSample{client: s.client}
		default:
			s.backends[int(pid)] = t
		}
	}
	if len(s.backends) == 0 { // none found here: the server runs elsewhere
		s.backends = nil
	}
	return s
}

// backendCPU reads the CPU time of the backend pid of database db, if that
// process is one on this machine; gone says it has exited meanwhile.
func backendCPU(pid int, db string) (cpu time.Duration, ok, gone bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	cmd, err := os.ReadFile(dir + "/cmdline")
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, true
	}
	if err != nil || !bytes.Contains(cmd, []byte(" "+db+" ")) {
		return 0, false, false
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return 0, false, errors.Is(err, fs.ErrNotExist)
	}
	// Fields after the command name, which is in parentheses: state is the
	// 3rd field, utime the 14th and stime the 15th.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, false, false
	}
	user, err1 := strconv.ParseInt(f[11], 10, 64)
	sys, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false, false
	}
	return time.Duration(user+sys) * clockTick, true, false
}

// reportCPU reports client-µs/op and server-µs/op since start.
func reportCPU(b *testing.B, pool *pgxpool.Pool, start cpuSample) {
	b.Helper()
	if b.N == 0 {
		return
	}
	end := sampleCPU(context.Background(), pool)
	perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(perOp(end.client-start.client), "client-µs/op")
	if start.backends == nil || end.backends == nil {
		return
	}
	var server time.Duration
	for pid, t := range end.backends {
		server += t - start.backends[pid] // a backend started since counts whole
	}
	b.ReportMetric(perOp(server), "server-µs/op")
}
