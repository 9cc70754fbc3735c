package pgtest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/pgstore/pgtest"
)

// Outside Ginkgo (benchmarks, plain tests) Open returns the process database, or an
// error wrapping ErrNoDatabase where Backend would skip. Release the database once
// per test binary, from TestMain:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		pgtest.Close()
//		os.Exit(code)
//	}
func ExampleOpen() {
	ctx := context.Background()
	db, err := pgtest.Open(ctx)
	if errors.Is(err, pgtest.ErrNoDatabase) {
		fmt.Println(err) // b.Skip(err) in a benchmark
		return
	}
	if err != nil {
		panic(err)
	}
	store, err := db.NewStore(ctx) // empty: the database was reset
	if err != nil {
		panic(err)
	}
	events, err := store.ReadLog(ctx, es.Cursor{}, 10)
	fmt.Println(len(events), err)
}
