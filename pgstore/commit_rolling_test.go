package pgstore_test

import (
	"errors"

	"github.com/consequent/consequent/es"
	"github.com/jackc/pgx/v5/pgconn"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// A process of a version before migration 008 commits through the PL/pgSQL
// commit() function, which the migration keeps: during a rolling deploy it
// writes the same streams as the new processes' statements, under the same
// locks and version checks.
var _ = Describe("Commits of a process from before migration 008", Label("integration"), func() {
	BeforeEach(requireDB)

	// oldCommit is how such a process wrote n events to a stream expected at
	// version expected.
	oldCommit := func(ctx SpecContext, id [16]byte, expected int64, n int) error {
		c := commitOf(stream(id, expected, n))
		e := c.Streams[0].Events
		ids, versions, types, data, cmds := [][16]byte{}, []int64{}, []string{}, [][]byte{}, [][16]byte{}
		for _, ev := range e {
			ids, versions, types = append(ids, ev.ID), append(versions, ev.Version), append(types, ev.Type)
			data, cmds = append(data, ev.Data), append(cmds, c.Command.ID)
		}
		streams := make([][16]byte, len(e))
		for i := range streams {
			streams[i] = id
		}
		_, err := pool.Exec(ctx, `SELECT * FROM consequent.commit(
			$1, 'test.Old', NULL, now(), '', NULL, NULL, NULL,
			ARRAY[$2::uuid], ARRAY['test.Thing'], ARRAY[$3::bigint], ARRAY[$4::bigint], ARRAY[false],
			'{}'::uuid[], '{}'::text[], '{}'::text[],
			$5::uuid[], $6::bigint[], $7::uuid[], $8::uuid[], $9::text[],
			array_fill(1, ARRAY[$4::int]), $10::jsonb[], array_fill(now(), ARRAY[$4::int]),
			array_fill(NULL::uuid, ARRAY[$4::int]), array_fill(NULL::uuid, ARRAY[$4::int]),
			array_fill(''::text, ARRAY[$4::int]), array_fill(NULL::jsonb, ARRAY[$4::int]),
			'{}'::uuid[], '{}'::bigint[], '{}'::int[], '{}'::bytea[])`,
			c.Command.ID, id, expected, int64(n), streams, versions, ids, cmds, types, data)
		return err
	}

	It("interleave with the new statements on one stream, each checking the other's versions", func(ctx SpecContext) {
		id := newID()
		Expect(oldCommit(ctx, id, 0, 2)).To(Succeed())
		Expect(store.Commit(ctx, commitOf(stream(id, 2, 1)), nil)).To(Succeed())
		Expect(oldCommit(ctx, id, 3, 1)).To(Succeed())

		err := oldCommit(ctx, id, 3, 1)
		var pe *pgconn.PgError
		Expect(errors.As(err, &pe)).To(BeTrue(), "got %v", err)
		Expect(pe.Code).To(Equal("CQ001"), "the old function refuses a version the new statements wrote")
		Expect(store.Commit(ctx, commitOf(stream(id, 3, 1)), nil)).To(MatchError(es.ErrConcurrencyConflict))

		got, err := store.LoadStream(ctx, id, es.StreamQuery{})
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(HaveLen(4))
		for i, e := range got {
			Expect(e.Version).To(Equal(int64(i + 1)))
		}
		Expect(store.StreamInfo(ctx, id)).To(Equal(es.StreamInfo{Type: "test.Thing", Version: 4}))
	})
})
