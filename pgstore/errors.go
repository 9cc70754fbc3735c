package pgstore

import (
	"errors"
	"fmt"

	"github.com/consequent/consequent/es"
	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATE codes pgstore's functions raise or maps.
const (
	codeConflict        = "CQ001" // raised by commit_conflict(): stale expected version, or another stream type
	codeUniqueViolation = "23505"
	codeUndefinedTable  = "42P01"
	codeUndefinedColumn = "42703"
	codeSerialization   = "40001"
	codeDeadlock        = "40P01"
)

// mappedError is a PostgreSQL error mapped to what callers branch on: errors.Is
// and errors.As find both the es error (a sentinel or a typed error) and the
// *pgconn.PgError that caused it.
type mappedError struct {
	msg  string
	errs []error
}

func (e *mappedError) Error() string   { return e.msg }
func (e *mappedError) Unwrap() []error { return e.errs }

// wrapAs returns an error reading "pgstore: op: detail: target", wrapping target
// and cause.
func wrapAs(op, detail string, target, cause error) error {
	return &mappedError{msg: fmt.Sprintf("pgstore: %s: %s: %v", op, detail, target), errs: []error{target, cause}}
}

// pgError returns err's *pgconn.PgError, or nil.
func pgError(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// mapError turns a PostgreSQL error of a store operation into the es error it
// means, the cause still wrapped; other errors are wrapped as "pgstore: op: err".
func mapError(op string, err error) error {
	if pe := pgError(err); pe != nil {
		switch {
		case pe.Code == codeConflict:
			return wrapAs(op, pe.Message, es.ErrConcurrencyConflict, err)
		case pe.Code == codeUniqueViolation && pe.ConstraintName == "commands_pkey":
			return wrapAs(op, "a command with this id is stored already", es.ErrDuplicateCommand, err)
		case pe.Code == codeUniqueViolation && pe.ConstraintName == "events_pkey":
			return wrapAs(op, "an event version was taken concurrently", es.ErrConcurrencyConflict, err)
		case pe.Code == codeSerialization || pe.Code == codeDeadlock:
			return wrapAs(op, pe.Message, es.ErrConcurrencyConflict, err)
		}
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}
