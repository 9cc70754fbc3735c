package es_test

import (
	"errors"
	"testing"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/google/uuid"
)

// FuzzDecode decodes arbitrary stored rows: whatever a row holds, Decode returns
// an event or a *DecodeError naming the row, and never panics. Plain test runs
// replay the seeds; `go test -fuzz FuzzDecode ./es` explores further.
func FuzzDecode(f *testing.F) {
	f.Add("bank.AccountOpened", 1, []byte(`{"name":"Ann"}`))
	f.Add("bank.AccountOpened", 2, []byte(`{"owner":"Ann"}`))
	f.Add("bank.AccountOpened", 3, []byte(`{"owner":"Ann","email":"a@x"}`))
	f.Add("bank.AccountOpened", 1, []byte(`null`))
	f.Add("bank.AccountOpened", 0, []byte(`{}`))
	f.Add("bank.Deposited", 1, []byte(`{"amount":1e400}`))
	f.Add("bank.Deposited", 1, []byte(`{"amount":"1"}`))
	f.Add("bank.Withdrawn", 9, []byte(`{}`))
	f.Add("bank.Nope", 1, []byte(`{}`))
	reg := es.NewRegistry()
	BankOptions{Opened: []es.Upcaster{renameNameToOwner, addEmail}}.Register(reg)
	id := uuid.MustParse("00000000-0000-0000-0000-000000000007")
	f.Fuzz(func(t *testing.T, typ string, schema int, data []byte) {
		rec := es.EventRecord{StreamID: id, StreamType: "bank.Account", Version: 3, Type: typ, Schema: schema, Data: data}
		env, err := reg.Decode(rec)
		if err == nil {
			if env.Event == nil {
				t.Fatalf("%q schema %d %q: no error and no event", typ, schema, data)
			}
			return
		}
		var de *es.DecodeError
		if !errors.As(err, &de) || de.StreamID != id || de.Version != 3 || de.Type != typ {
			t.Fatalf("%q schema %d %q: %v does not name the row", typ, schema, data, err)
		}
	})
}
