package es_test

import (
	"errors"
	"fmt"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Schema 1 of AccountOpened was {"name": …}; schema 2 renamed it to "owner"; schema 3
// added "email".
var (
	renameNameToOwner es.Upcaster = func(f map[string]any) error {
		f["owner"] = f["name"]
		delete(f, "name")
		return nil
	}
	addEmail es.Upcaster = func(f map[string]any) error {
		if _, ok := f["email"]; !ok {
			f["email"] = "unknown@example.com"
		}
		return nil
	}
)

var _ = Describe("upcasters", func() {
	var w *world
	// storeRaw commits one event record directly, as an older program stored it.
	storeRaw := func(id uuid.UUID, version int64, typ string, schema int, data string) {
		GinkgoHelper()
		Expect(w.store.Commit(w.ctx, &es.Commit{
			Command: es.CommandRecord{ID: uuid.New(), Type: "spec.Raw"},
			Streams: []es.StreamWrite{{StreamID: id, StreamType: "bank.Account", ExpectedVersion: version - 1,
				Events: []es.EventRecord{{ID: uuid.New(), StreamID: id, StreamType: "bank.Account",
					Version: version, Type: typ, Schema: schema, Data: []byte(data)}}}},
		}, nil)).To(Succeed())
	}
	decodeError := func(err error) *es.DecodeError {
		GinkgoHelper()
		var de *es.DecodeError
		Expect(errors.As(err, &de)).To(BeTrue(), "want a *es.DecodeError, got %v", err)
		return de
	}

	BeforeEach(func() {
		w = newWorld(BankOptions{Opened: []es.Upcaster{renameNameToOwner, addEmail}}.Register)
	})

	It("turn every older schema into the current one at read time, leaving the stored row", func() {
		v1, v2 := uuid.New(), uuid.New()
		storeRaw(v1, 1, "bank.AccountOpened", 1, `{"name":"Ann"}`)
		storeRaw(v2, 1, "bank.AccountOpened", 2, `{"owner":"Bob"}`)

		Expect(w.events(v1)).To(Equal([]any{AccountOpened{Owner: "Ann", Email: "unknown@example.com"}}))
		Expect(w.events(v2)).To(Equal([]any{AccountOpened{Owner: "Bob", Email: "unknown@example.com"}}))
		recs, err := w.store.LoadStream(w.ctx, v1, es.StreamQuery{})
		Expect(err).NotTo(HaveOccurred())
		Expect(recs[0].Schema).To(Equal(1))
		Expect(string(recs[0].Data)).To(Equal(`{"name":"Ann"}`))

		w.exec(Deposit{ID: v1, Amount: 3}) // loads through the upcasters too
		Expect(w.account(v1).Owner).To(Equal("Ann"))
	})

	It("are not run on events of the current schema, which new events get", func() {
		id := w.open("Cy", "cy@x")
		recs, err := w.store.LoadStream(w.ctx, id, es.StreamQuery{})
		Expect(err).NotTo(HaveOccurred())
		Expect(recs[0].Schema).To(Equal(3))
		Expect(w.events(id)).To(Equal([]any{AccountOpened{Owner: "Cy", Email: "cy@x"}}))
	})

	It("that fail make a *DecodeError naming stream, version and type", func() {
		w = newWorld(BankOptions{Opened: []es.Upcaster{func(map[string]any) error { return errors.New("no can do") }}}.Register)
		id := uuid.New()
		storeRaw(id, 1, "bank.AccountOpened", 1, `{"name":"Ann"}`)

		_, err := w.svc.History(w.ctx, id)
		de := decodeError(err)
		Expect(de.StreamID).To(Equal(id))
		Expect(de.Version).To(Equal(int64(1)))
		Expect(de.Type).To(Equal("bank.AccountOpened"))
		Expect(err).To(MatchError(fmt.Sprintf("decode event bank.AccountOpened of stream %s version 1: upcast from schema 1: no can do", id)))

		_, err = w.svc.Execute(w.ctx, Deposit{ID: id, Amount: 1})
		decodeError(err)
		Expect(err).To(MatchError(ContainSubstring("bank.Deposit")))
	})

	It("that panic, or a payload that is not an object, make a *DecodeError, not a crash", func() {
		w = newWorld(BankOptions{Opened: []es.Upcaster{func(f map[string]any) error {
			f["owner"] = f["name"].(string) + "!" // assumes what old payloads held
			return nil
		}, addEmail}}.Register)
		number, null := uuid.New(), uuid.New()
		storeRaw(number, 1, "bank.AccountOpened", 1, `{"name":42}`)
		storeRaw(null, 1, "bank.AccountOpened", 1, `null`)

		_, err := w.svc.History(w.ctx, number)
		Expect(decodeError(err).Version).To(Equal(int64(1)))
		Expect(err).To(MatchError(ContainSubstring("upcast from schema 1: upcaster panicked: interface conversion")))
		_, err = w.svc.History(w.ctx, null)
		decodeError(err)
		Expect(err).To(MatchError(fmt.Sprintf("decode event bank.AccountOpened of stream %s version 1: payload is not a JSON object: null", null)))
	})

	It("cannot help an unknown event type: ErrUnknownEventType inside a *DecodeError", func() {
		id := uuid.New()
		storeRaw(id, 1, "bank.AccountOpened", 3, `{"owner":"Ann","email":"a@x"}`)
		storeRaw(id, 2, "bank.InterestPaid", 1, `{}`)
		_, err := w.svc.Execute(w.ctx, Deposit{ID: id, Amount: 1})
		Expect(err).To(MatchError(es.ErrUnknownEventType))
		de := decodeError(err)
		Expect(de.Version).To(Equal(int64(2)))
		Expect(de.Type).To(Equal("bank.InterestPaid"))
	})

	It("refuse a payload newer than the program", func() {
		id := uuid.New()
		storeRaw(id, 1, "bank.AccountOpened", 4, `{}`)
		_, err := w.svc.History(w.ctx, id)
		Expect(decodeError(err).Err).To(MatchError("payload schema 4 is newer than this program's 3"))
	})
})
