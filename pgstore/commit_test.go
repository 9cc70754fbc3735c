package pgstore_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Commit and loads", Label("integration"), func() {
	BeforeEach(requireDB)

	It("stores a unit of work and loads it back, envelope and all", func(ctx SpecContext) {
		a, b := newID(), newID()
		c := commitOf(stream(a, 0, 2), stream(b, 0, 1))
		Expect(store.Commit(ctx, c, nil)).To(Succeed())

		evs := c.Streams[0].Events
		Expect(evs[0].Position).To(BeNumerically(">", 0))
		Expect(evs[1].Position).To(BeNumerically(">", evs[0].Position))
		Expect(c.Streams[1].Events[0].Position).To(BeNumerically(">", evs[1].Position))
		Expect(evs[0].TxID).NotTo(BeZero())
		Expect(c.Streams[1].Events[0].TxID).To(Equal(evs[0].TxID))
		Expect(evs[0].Time).To(Equal(t0.UTC().Truncate(time.Microsecond)), "times are normalised in the records")
		Expect(c.Command.Time.Location()).To(Equal(time.UTC))

		got, err := store.LoadStream(ctx, a, es.StreamQuery{})
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(evs))

		info, err := store.StreamInfo(ctx, a)
		Expect(err).NotTo(HaveOccurred())
		Expect(info).To(Equal(es.StreamInfo{Type: "test.Thing", Version: 2}))

		cmds, err := store.Commands(ctx, c.Command.ID, newID())
		Expect(err).NotTo(HaveOccurred())
		Expect(cmds).To(Equal([]es.CommandRecord{c.Command}))
	})

	It("keeps nil and empty metadata, zero ids and empty users apart", func(ctx SpecContext) {
		id := newID()
		c := commitOf(stream(id, 0, 2))
		c.Command.Metadata, c.Command.UserID, c.Command.CorrelationID = nil, "", uuid.Nil
		c.Streams[0].Events[0].Metadata = map[string]string{}
		c.Streams[0].Events[1].Metadata = nil
		c.Streams[0].Events[1].CausationID = uuid.Nil
		c.Streams[0].Events[1].UserID = ""
		Expect(store.Commit(ctx, c, nil)).To(Succeed())
		got, err := store.LoadStream(ctx, id, es.StreamQuery{})
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(c.Streams[0].Events))
		Expect(got[0].Metadata).NotTo(BeNil())
		cmds, err := store.Commands(ctx, c.Command.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(cmds).To(Equal([]es.CommandRecord{c.Command}))
	})

	It("records a command without events, and a stream write without events creates the stream", func(ctx SpecContext) {
		c := commitOf()
		Expect(store.Commit(ctx, c, nil)).To(Succeed())
		cmds, err := store.Commands(ctx, c.Command.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(cmds).To(HaveLen(1))

		id := newID()
		Expect(store.Commit(ctx, commitOf(stream(id, 0, 0)), nil)).To(Succeed())
		Expect(store.StreamInfo(ctx, id)).To(Equal(es.StreamInfo{Type: "test.Thing", Version: 0}))
	})

	It("filters loads by version and time", func(ctx SpecContext) {
		id := newID()
		c := commitOf(stream(id, 0, 5))
		for i := range c.Streams[0].Events {
			c.Streams[0].Events[i].Time = t0.Add(time.Duration(i) * time.Hour)
		}
		Expect(store.Commit(ctx, c, nil)).To(Succeed())
		versions := func(q es.StreamQuery) []int64 {
			recs, err := store.LoadStream(ctx, id, q)
			Expect(err).NotTo(HaveOccurred())
			var vs []int64
			for _, r := range recs {
				vs = append(vs, r.Version)
			}
			return vs
		}
		Expect(versions(es.StreamQuery{FromVersion: 2, ToVersion: 4})).To(Equal([]int64{2, 3, 4}))
		Expect(versions(es.StreamQuery{FromVersion: 4})).To(Equal([]int64{4, 5}))
		Expect(versions(es.StreamQuery{ToVersion: 1})).To(Equal([]int64{1}))
		Expect(versions(es.StreamQuery{Until: t0.Add(2 * time.Hour)})).To(Equal([]int64{1, 2, 3}))
		Expect(store.LoadStream(ctx, newID(), es.StreamQuery{})).To(BeEmpty())
	})

	It("reports an unknown stream as ErrAggregateNotFound", func(ctx SpecContext) {
		_, err := store.StreamInfo(ctx, newID())
		Expect(err).To(MatchError(es.ErrAggregateNotFound))
	})

	It("refuses a stale expected version, writing nothing, with both errors wrapped", func(ctx SpecContext) {
		id := newID()
		Expect(store.Commit(ctx, commitOf(stream(id, 0, 2)), nil)).To(Succeed())
		other := newID()
		stale := commitOf(stream(other, 0, 1), stream(id, 1, 1))
		err := store.Commit(ctx, stale, nil)
		Expect(err).To(MatchError(es.ErrConcurrencyConflict))
		var pe *pgconn.PgError
		Expect(errors.As(err, &pe)).To(BeTrue())
		Expect(err.Error()).To(ContainSubstring(id.String()))
		Expect(err.Error()).To(ContainSubstring("expected version 1, stored 2"))
		Expect(err.Error()).To(HavePrefix("pgstore: commit: "))

		_, err = store.StreamInfo(ctx, other)
		Expect(err).To(MatchError(es.ErrAggregateNotFound))
		Expect(store.Commands(ctx, stale.Command.ID)).To(BeEmpty())
	})

	It("refuses a new stream whose id is taken, and a stream of another type", func(ctx SpecContext) {
		id := newID()
		Expect(store.Commit(ctx, commitOf(stream(id, 0, 1)), nil)).To(Succeed())
		Expect(store.Commit(ctx, commitOf(stream(id, 0, 1)), nil)).To(MatchError(es.ErrConcurrencyConflict))
		c := commitOf(stream(id, 1, 1))
		c.Streams[0].StreamType = "test.Other"
		Expect(store.Commit(ctx, c, nil)).To(MatchError(ContainSubstring("is a test.Thing, not a test.Other")))
	})

	It("rejects malformed commits before writing", func(ctx SpecContext) {
		id := newID()
		c := commitOf(stream(id, 0, 2))
		c.Streams[0].Events[1].Version = 3
		Expect(store.Commit(ctx, c, nil)).To(MatchError(ContainSubstring("want version 2")))
		c = commitOf(stream(id, 0, 1))
		c.Streams[0].Events[0].Type = ""
		Expect(store.Commit(ctx, c, nil)).To(MatchError(ContainSubstring("has no type")))
		c = commitOf(stream(id, 0, 1))
		c.Streams[0].Events[0].Data = []byte("{not json")
		Expect(store.Commit(ctx, c, nil)).To(MatchError(ContainSubstring("not valid JSON")))
		c = commitOf(stream(id, 0, 1), stream(id, 1, 1))
		Expect(store.Commit(ctx, c, nil)).To(MatchError(ContainSubstring("appears twice")))
		Expect(store.Commit(ctx, commitOf(stream(uuid.Nil, 0, 1)), nil)).To(MatchError(ContainSubstring("nil uuid")))
		_, err := store.StreamInfo(ctx, id)
		Expect(err).To(MatchError(es.ErrAggregateNotFound))
	})

	It("rejects a negative expected version as malformed, as the memory store does, not as a conflict to retry", func(ctx SpecContext) {
		s, err := pgtest.Store(ctx)
		Expect(err).NotTo(HaveOccurred())
		err = s.Commit(ctx, commitOf(stream(newID(), -1, 1)), nil)
		Expect(err).To(MatchError(ContainSubstring("negative")))
		Expect(err).NotTo(MatchError(es.ErrConcurrencyConflict))
	})

	It("honours a cancelled context", func(ctx SpecContext) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		Expect(store.Commit(cctx, commitOf(stream(newID(), 0, 1)), nil)).To(MatchError(context.Canceled))
		_, err := store.LoadStream(cctx, newID(), es.StreamQuery{})
		Expect(err).To(MatchError(context.Canceled))
	})

	It("lets 8 racing writers of one stream either commit or conflict, leaving no gaps", func(ctx SpecContext) {
		id := newID()
		Expect(store.Commit(ctx, commitOf(stream(id, 0, 1)), nil)).To(Succeed())
		const writers, rounds = 8, 6
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			committed int
			conflicts int
			others    []error
		)
		for range writers {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				for range rounds {
					info, err := store.StreamInfo(ctx, id)
					if err != nil {
						mu.Lock()
						others = append(others, err)
						mu.Unlock()
						return
					}
					err = store.Commit(ctx, commitOf(stream(id, info.Version, 1)), nil)
					mu.Lock()
					switch {
					case err == nil:
						committed++
					case errors.Is(err, es.ErrConcurrencyConflict):
						conflicts++
					default:
						others = append(others, err)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		Expect(others).To(BeEmpty())
		Expect(committed + conflicts).To(Equal(writers * rounds))
		Expect(committed).To(BeNumerically(">=", rounds), "at least one writer wins each round")
		recs, err := store.LoadStream(ctx, id, es.StreamQuery{})
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(HaveLen(1 + committed))
		for i, r := range recs {
			Expect(r.Version).To(Equal(int64(i + 1)))
			if i > 0 {
				Expect(r.Cursor().Before(recs[i-1].Cursor())).To(BeFalse(), "a stream's versions commit in log order")
			}
		}
		Expect(store.StreamInfo(ctx, id)).To(Equal(es.StreamInfo{Type: "test.Thing", Version: int64(1 + committed)}))
	})

	It("stores snapshots by schema and loads the newest at or below a version", func(ctx SpecContext) {
		id := newID()
		var expected int64
		for v := int64(1); v <= 4; v++ {
			c := commitOf(stream(id, expected, 1))
			c.Streams[0].Snapshot = &es.Snapshot{StreamID: id, Version: v, Schema: int(1 + v%2), Data: []byte{byte(v)}}
			Expect(store.Commit(ctx, c, nil)).To(Succeed())
			expected = v
		}
		snap, err := store.LoadSnapshot(ctx, id, 1, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(snap).To(Equal(&es.Snapshot{StreamID: id, StreamType: "test.Thing", Version: 4, Schema: 1, Data: []byte{4}}))
		snap, err = store.LoadSnapshot(ctx, id, 2, 2)
		Expect(err).NotTo(HaveOccurred())
		Expect(snap.Version).To(Equal(int64(1)))
		Expect(store.LoadSnapshot(ctx, id, 3, 0)).To(BeNil())
		Expect(store.LoadSnapshot(ctx, newID(), 1, 0)).To(BeNil())
	})

	It("deletes a stream for good: events, snapshots, keys and the stream row", func(ctx SpecContext) {
		id := newID()
		c := commitOf(stream(id, 0, 2))
		c.Streams[0].UniqueKeys = []es.UniqueKey{{Scope: "email", Key: id.String()}}
		c.Streams[0].Snapshot = &es.Snapshot{StreamID: id, Version: 2, Schema: 1, Data: []byte("s")}
		Expect(store.Commit(ctx, c, nil)).To(Succeed())
		Expect(store.DeleteStream(ctx, id)).To(Succeed())
		Expect(store.LoadStream(ctx, id, es.StreamQuery{})).To(BeEmpty())
		Expect(store.LoadSnapshot(ctx, id, 1, 0)).To(BeNil())
		_, err := store.StreamInfo(ctx, id)
		Expect(err).To(MatchError(es.ErrAggregateNotFound))
		var n int
		Expect(pool.QueryRow(ctx, `SELECT count(*) FROM consequent.unique_keys WHERE stream_id = $1`, id).Scan(&n)).To(Succeed())
		Expect(n).To(BeZero())
		other := commitOf(stream(newID(), 0, 1))
		other.Streams[0].UniqueKeys = []es.UniqueKey{{Scope: "email", Key: id.String()}}
		Expect(store.Commit(ctx, other, nil)).To(Succeed(), "the key is free again")
		Expect(store.DeleteStream(ctx, newID())).To(Succeed(), "deleting what does not exist is fine")
	})
})
