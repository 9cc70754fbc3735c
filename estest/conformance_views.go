package estest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// viewRow exercises every column type the persistor contract knows.
type viewRow struct {
	ID      uuid.UUID `db:"id"`
	Seq     int64     `db:"seq"`
	Name    string    `db:"name"`
	Score   float64   `db:"score"`
	Active  bool      `db:"active"`
	At      time.Time `db:"at"`
	Blob    []byte    `db:"blob"`
	Tags    []string  `db:"tags"`
	Comment *string   `db:"comment"`
	Ref     *uuid.UUID
}

var viewTable = es.NewTable[viewRow]("estest_conformance_rows", "id").Index("name")

func viewCases() []storeCase {
	at := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", -7200))
	full := func(n uint64, name string) viewRow {
		c, ref := "note", ID(77)
		return viewRow{ID: ID(n), Seq: int64(n), Name: name, Score: 1.5, Active: true, At: at, Blob: []byte{0, 1, 2},
			Tags: []string{"a", "b"}, Comment: &c, Ref: &ref}
	}
	setup := func(ctx context.Context, s es.EventStore) (es.Persistor, error) {
		v := s.Views()
		if err := v.CreateTables(ctx, viewTable.Def()); err != nil {
			return nil, err
		}
		return v, v.CreateTables(ctx, viewTable.Def())
	}
	return []storeCase{
		{"views round trip", "a row reads back as written, in canonical values: time in UTC at microsecond precision, NULL for nil pointers; CreateTables is idempotent", func(ctx context.Context, s es.EventStore) error {
			v, err := setup(ctx, s)
			if err != nil {
				return err
			}
			want := full(1, "ann")
			bare := viewRow{ID: ID(2), Name: "bob", At: at}
			if err := errors.Join(viewTable.Insert(ctx, v, want), viewTable.Insert(ctx, v, bare)); err != nil {
				return err
			}
			got, err := viewTable.Find(ctx, v, nil)
			if err != nil {
				return err
			}
			want.At = at.UTC().Truncate(time.Microsecond)
			bare.At = want.At
			if len(got) != 2 || !reflect.DeepEqual(got[0], want) || got[1].Comment != nil || got[1].Ref != nil || got[1].Name != "bob" || !got[1].At.Equal(want.At) {
				return fmt.Errorf("read back %+v, want %+v and %+v", got, want, bare)
			}
			if got[0].At.Location() != time.UTC {
				return fmt.Errorf("time read back in %v, want UTC", got[0].At.Location())
			}
			return nil
		}},
		{"views keys", "Insert of an existing key fails with ErrDuplicateRecord; Upsert replaces; Get of a missing key fails with ErrRecordNotFound", func(ctx context.Context, s es.EventStore) error {
			v, err := setup(ctx, s)
			if err != nil {
				return err
			}
			if err := viewTable.Insert(ctx, v, full(1, "ann")); err != nil {
				return err
			}
			if err := viewTable.Insert(ctx, v, full(1, "again")); !errors.Is(err, es.ErrDuplicateRecord) {
				return fmt.Errorf("duplicate insert: got %v, want ErrDuplicateRecord", err)
			}
			if err := viewTable.Upsert(ctx, v, full(1, "replaced")); err != nil {
				return err
			}
			got, err := viewTable.Get(ctx, v, es.Where{"id": ID(1)})
			if err != nil || got.Name != "replaced" {
				return fmt.Errorf("after upsert: %+v, %v", got, err)
			}
			if _, err := viewTable.Get(ctx, v, es.Where{"id": ID(5)}); !errors.Is(err, es.ErrRecordNotFound) {
				return fmt.Errorf("missing row: got %v, want ErrRecordNotFound", err)
			}
			return nil
		}},
		{"views queries", "Find selects by equality on every Where column, ordered by key; Update and Delete change the matching rows and count them", func(ctx context.Context, s es.EventStore) error {
			v, err := setup(ctx, s)
			if err != nil {
				return err
			}
			for _, r := range []viewRow{full(3, "x"), full(1, "x"), full(2, "y")} {
				if err := viewTable.Insert(ctx, v, r); err != nil {
					return err
				}
			}
			xs, err := viewTable.Find(ctx, v, es.Where{"name": "x", "active": true})
			if err != nil {
				return err
			}
			if len(xs) != 2 || xs[0].ID != ID(1) || xs[1].ID != ID(3) {
				return fmt.Errorf("Find(name x) = %d rows, want ids 1 and 3 in order", len(xs))
			}
			n, err := viewTable.Update(ctx, v, es.Where{"name": "x"}, func(r *viewRow) { r.Score = 9; r.Comment = nil })
			if err != nil || n != 2 {
				return fmt.Errorf("Update: %d rows, %v; want 2", n, err)
			}
			up, err := viewTable.Get(ctx, v, es.Where{"id": ID(3)})
			if err != nil || up.Score != 9 || up.Comment != nil {
				return fmt.Errorf("after update: %+v, %v", up, err)
			}
			m, err := v.Update(ctx, viewTable.Name(), es.Where{"id": ID(2).String()}, es.Row{"seq": 40})
			if err != nil || m != 1 {
				return fmt.Errorf("Persistor.Update with a string uuid: %d rows, %v", m, err)
			}
			d, err := viewTable.Delete(ctx, v, es.Where{"name": "x"})
			if err != nil || d != 2 {
				return fmt.Errorf("Delete: %d rows, %v; want 2", d, err)
			}
			left, err := viewTable.Find(ctx, v, nil)
			if err != nil || len(left) != 1 || left[0].Seq != 40 {
				return fmt.Errorf("after delete: %+v, %v", left, err)
			}
			return nil
		}},
		{"views errors", "an unknown table or column is an error, not a panic", func(ctx context.Context, s es.EventStore) error {
			v, err := setup(ctx, s)
			if err != nil {
				return err
			}
			if _, err := v.Find(ctx, "no_such_table", nil); err == nil {
				return errors.New("Find on an unknown table succeeded")
			}
			if _, err := v.Find(ctx, viewTable.Name(), es.Where{"nope": 1}); err == nil {
				return errors.New("Find on an unknown column succeeded")
			}
			if err := v.Insert(ctx, viewTable.Name(), es.Row{"id": ID(1), "nope": 1}); err == nil {
				return errors.New("Insert of an unknown column succeeded")
			}
			return nil
		}},
	}
}
