package pgstore_test

import (
	"errors"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

type thing struct{ es.AggregateRoot }

func (*thing) On(any) {}

type happened struct {
	N int    `json:"n"`
	S string `json:"s"`
}

var _ = Describe("rows that no longer decode", Label("integration"), func() {
	BeforeEach(requireDB)

	It("are returned as stored; Registry.Decode names stream, version and type; other streams stay readable", func(ctx SpecContext) {
		reg := es.NewRegistry()
		es.RegisterEvent[happened](es.RegisterAggregate(reg, "test.Thing", func() *thing { return &thing{} }), "test.Happened")
		Expect(reg.Err()).NotTo(HaveOccurred())

		good, bad := newID(), newID()
		Expect(store.Commit(ctx, commitOf(stream(good, 0, 1), stream(bad, 0, 1)), nil)).To(Succeed())
		_, err := pool.Exec(ctx, `
			INSERT INTO consequent.events (stream_id, version, id, command_id, type, schema, data, time)
			VALUES ($1, 2, $2, $2, 'test.Vanished', 1, '{"gone": true}', now()),
			       ($1, 3, $3, $3, 'test.Happened', 1, '{"n": "not a number"}', now());
			`, bad, newID(), newID())
		Expect(err).NotTo(HaveOccurred())
		_, err = pool.Exec(ctx, `UPDATE consequent.streams SET version = 3 WHERE stream_id = $1`, bad)
		Expect(err).NotTo(HaveOccurred())

		recs, err := store.LoadStream(ctx, bad, es.StreamQuery{})
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(HaveLen(3))
		Expect(recs[1].Type).To(Equal("test.Vanished"))
		Expect(recs[1].CorrelationID).To(Equal(uuid.Nil))

		_, err = reg.Decode(recs[0])
		Expect(err).NotTo(HaveOccurred())
		for _, r := range recs[1:] {
			_, err := reg.Decode(r)
			var de *es.DecodeError
			Expect(errors.As(err, &de)).To(BeTrue(), "got %v", err)
			Expect(de.StreamID).To(Equal(bad))
			Expect(de.Version).To(Equal(r.Version))
			Expect(de.Type).To(Equal(r.Type))
		}
		_, err = reg.Decode(recs[1])
		Expect(err).To(MatchError(es.ErrUnknownEventType))

		ok, err := store.LoadStream(ctx, good, es.StreamQuery{})
		Expect(err).NotTo(HaveOccurred())
		env, err := reg.Decode(ok[0])
		Expect(err).NotTo(HaveOccurred())
		Expect(env.Event).To(Equal(happened{N: 1, S: "x"}))
	})
})
