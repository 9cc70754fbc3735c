package es_test

import (
	"time"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("LoadAt (time travel)", func() {
	var w *world
	BeforeEach(func() { w = newWorld(nil) })

	It("rebuilds an aggregate as of a version", func() {
		id := w.open("Ann", "a@x")
		w.exec(Deposit{ID: id, Amount: 10})
		w.exec(Deposit{ID: id, Amount: 20})
		a, err := es.LoadAt[*Account](w.ctx, w.svc, id, es.StreamQuery{ToVersion: 2})
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Balance).To(Equal(int64(10)))
		Expect(a.Version()).To(Equal(int64(2)))
		Expect(w.account(id).Balance).To(Equal(int64(30)), "no limit: as of now")
	})

	It("rebuilds an aggregate as of a time on the service's clock", func() {
		id := w.open("Ann", "a@x")
		w.clock.Advance(time.Hour)
		w.exec(Deposit{ID: id, Amount: 10})
		w.clock.Advance(time.Hour)
		w.exec(Deposit{ID: id, Amount: 20})

		at := func(t time.Time) *Account {
			GinkgoHelper()
			a, err := es.LoadAt[*Account](w.ctx, w.svc, id, es.StreamQuery{Until: t})
			Expect(err).NotTo(HaveOccurred())
			return a
		}
		Expect(at(testStart).Balance).To(BeZero())
		Expect(at(testStart.Add(90 * time.Minute)).Balance).To(Equal(int64(10)))
		Expect(at(testStart.Add(time.Hour)).Balance).To(Equal(int64(10)), "Until is inclusive")
		Expect(at(testStart.Add(2 * time.Hour)).Balance).To(Equal(int64(30)))
	})

	It("finds nothing before the first event", func() {
		id := w.open("Ann", "a@x")
		_, err := es.LoadAt[*Account](w.ctx, w.svc, id, es.StreamQuery{Until: testStart.Add(-time.Second)})
		Expect(err).To(MatchError(es.ErrAggregateNotFound))
	})

	It("refuses another aggregate type", func() {
		id := w.open("Ann", "a@x")
		_, err := es.LoadAt[*Counter](w.ctx, w.svc, id, es.StreamQuery{})
		Expect(err).To(MatchError(es.ErrAggregateType))
	})
})
