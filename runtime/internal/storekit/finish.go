// Package storekit holds the parts of a store that do not depend on its
// database: how outcomes are grouped into one transaction and isolated when a
// hook fails, and how versioned migrations are applied. Each store supplies
// the statements.
package storekit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// FinishTx is one store's statements for recording outcomes, all run in
// the same transaction. Each statement is fenced by the lease token and
// returns the events it changed.
type FinishTx interface {
	// Complete marks delivered events completed; it returns their ordering
	// keys by event id.
	Complete(ctx context.Context, outs []outbox.Outcome) (map[uuid.UUID]string, error)
	// Retry schedules the events' next attempt.
	Retry(ctx context.Context, outs []outbox.Outcome) ([]uuid.UUID, error)
	// Release gives the events back their attempt and schedules them.
	Release(ctx context.Context, outs []outbox.Outcome) ([]uuid.UUID, error)
	// Kill marks the events dead; it returns their ordering keys by event id.
	Kill(ctx context.Context, outs []outbox.Outcome) (map[uuid.UUID]string, error)
	// FinishKeys records that one event of each listed key (a key may be
	// listed more than once) left the unfinished set, and promotes each
	// key's next event to head. It reports whether any event was promoted.
	FinishKeys(ctx context.Context, keys []string) (bool, error)
	// Hooks runs the delivered hooks registered for the deliveries' event
	// types, if any, and returns the first error. careful is set only for a
	// single delivery, whose hook must then fail alone if it breaks the
	// transaction (PostgreSQL: run it in a savepoint); otherwise hooks may
	// run bare, and a broken transaction fails the whole attempt, which
	// Finish then repeats carefully, one outcome at a time.
	Hooks(ctx context.Context, ds []outbox.Delivery, careful bool) error
}

// Begin starts a transaction for Finish. commit ends it; rollback undoes it
// and is a no-op after commit.
type Begin func(ctx context.Context) (tx FinishTx, commit func(context.Context) error, rollback func(context.Context), err error)

// hookError carries a failed hook out of the transaction it aborted. id
// is the first event whose hook ran: the event, when one outcome was
// recorded, which is the only case in which Finish reports it.
type hookError struct {
	id  uuid.UUID
	err error
}

func (e *hookError) Error() string { return fmt.Sprintf("delivered hook of %s: %v", e.id, e.err) }

// Finish records outcomes in one transaction, running the delivered hooks
// bare. If a hook fails, or the transaction fails after hooks ran (a hook
// may have broken it and hidden its error), the outcomes are recorded again
// one at a time, with careful hooks, so one bad hook holds back nobody
// else: the failed hooks' events stay claimed and are reported in
// HookErrors. Any other error is the store's, and is returned. hasHook
// reports whether an event type has a delivered hook. promoted reports
// whether a key's next event became claimable.
func Finish(ctx context.Context, outs []outbox.Outcome, begin Begin, hasHook func(eventType string) bool) (res outbox.FinishResult, promoted bool, err error) {
	if len(outs) == 0 {
		return res, false, nil
	}
	outs = normalize(outs)
	res, promoted, err = finishTx(ctx, outs, begin, false)
	var he *hookError
	switch {
	case err == nil || ctx.Err() != nil:
		return res, promoted, err
	case errors.As(err, &he) && len(outs) == 1:
		return outbox.FinishResult{HookErrors: map[uuid.UUID]error{he.id: he.err}}, false, nil
	case he == nil && !slices.ContainsFunc(outs, func(o outbox.Outcome) bool {
		return o.Kind == outbox.Delivered && hasHook(o.Event.Type)
	}):
		return res, promoted, err
	}
	res, promoted = outbox.FinishResult{}, false
	for _, out := range outs {
		one, p, err := finishTx(ctx, []outbox.Outcome{out}, begin, true)
		switch {
		case errors.As(err, &he):
			if res.HookErrors == nil {
				res.HookErrors = make(map[uuid.UUID]error)
			}
			res.HookErrors[he.id] = he.err
		case err != nil:
			// res.Recorded holds the outcomes committed so far.
			return res, promoted, err
		default:
			res.Lost = append(res.Lost, one.Lost...)
			res.Recorded = append(res.Recorded, one.Recorded...)
			promoted = promoted || p
		}
	}
	return res, promoted, nil
}

func finishTx(ctx context.Context, outs []outbox.Outcome, begin Begin, careful bool) (res outbox.FinishResult, promoted bool, err error) {
	tx, commit, rollback, err := begin(ctx)
	if err != nil {
		return res, false, fmt.Errorf("begin: %w", err)
	}
	defer rollback(ctx)

	byKind := make(map[outbox.OutcomeKind][]outbox.Outcome)
	for _, o := range outs {
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	recorded := make(map[uuid.UUID]bool, len(outs))
	keys := make([]string, 0, len(outs))

	if delivered := byKind[outbox.Delivered]; len(delivered) > 0 {
		done, err := tx.Complete(ctx, delivered)
		if err != nil {
			return res, false, fmt.Errorf("complete: %w", err)
		}
		ds := make([]outbox.Delivery, 0, len(delivered))
		for _, o := range delivered {
			key, ok := done[o.Event.ID]
			if !ok {
				continue
			}
			ds = append(ds, outbox.Delivery{Event: o.Event, Receipt: o.Receipt})
			recorded[o.Event.ID] = true
			keys = append(keys, key)
		}
		if len(ds) > 0 {
			if err := tx.Hooks(ctx, ds, careful); err != nil {
				return res, false, &hookError{id: ds[0].Event.ID, err: err}
			}
		}
	}
	if dead := byKind[outbox.Dead]; len(dead) > 0 {
		killed, err := tx.Kill(ctx, dead)
		if err != nil {
			return res, false, fmt.Errorf("kill: %w", err)
		}
		for id, key := range killed {
			recorded[id] = true
			keys = append(keys, key)
		}
	}
	for _, step := range []struct {
		kind outbox.OutcomeKind
		run  func(context.Context, []outbox.Outcome) ([]uuid.UUID, error)
	}{{outbox.Retry, tx.Retry}, {outbox.Release, tx.Release}} {
		if len(byKind[step.kind]) == 0 {
			continue
		}
		ids, err := step.run(ctx, byKind[step.kind])
		if err != nil {
			return res, false, fmt.Errorf("%s: %w", step.kind, err)
		}
		for _, id := range ids {
			recorded[id] = true
		}
	}
	if len(keys) > 0 {
		if promoted, err = tx.FinishKeys(ctx, keys); err != nil {
			return res, false, fmt.Errorf("finish keys: %w", err)
		}
	}
	if err := commit(ctx); err != nil {
		return res, false, fmt.Errorf("commit: %w", err)
	}
	res.Recorded = make([]uuid.UUID, 0, len(outs))
	for _, o := range outs {
		if recorded[o.Event.ID] {
			res.Recorded = append(res.Recorded, o.Event.ID)
		} else {
			res.Lost = append(res.Lost, o.Event.ID)
		}
	}
	return res, promoted, nil
}

// MaxErrorBytes bounds the last error kept with an event: enough for a
// status line and an excerpt of the response, not a whole body.
const MaxErrorBytes = 1024

// normalize returns outs as the store records them:
//
//   - a retry of an event that has used its last attempt is its death. The
//     processor never asks for one, but a store must not let an event run
//     past MaxAttempts whoever records its outcomes;
//   - every error is one line of printable text of at most MaxErrorBytes, so
//     that last_error stays readable in a terminal and small in the table
//     whatever a sender returned.
func normalize(outs []outbox.Outcome) []outbox.Outcome {
	norm := make([]outbox.Outcome, len(outs))
	for i, o := range outs {
		if o.Kind == outbox.Retry && o.Event.Attempts >= o.Event.MaxAttempts {
			o.Kind = outbox.Dead
			o.Error = fmt.Sprintf("gave up after %d attempts: %s", o.Event.Attempts, o.Error)
		}
		o.Error = boundError(o.Error)
		norm[i] = o
	}
	return norm
}

func boundError(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	if len(s) <= MaxErrorBytes {
		return s
	}
	cut := MaxErrorBytes - len("…")
	for !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Reached reports whether an outcome is a release the backend may have
// seen, which the store counts in the event's Releases.
func Reached(o outbox.Outcome) bool { return o.Kind == outbox.Release && o.Reached }

// Dated reports whether an outcome dates the event's last failure
// (FailedAt and FailedClass): every counted failure, and every release the
// backend may have seen, except an answer that the event was in progress.
func Dated(o outbox.Outcome) bool {
	switch o.Kind {
	case outbox.Retry, outbox.Dead:
		return true
	case outbox.Release:
		return o.Reached && o.Class != outbox.InProgress
	}
	return false
}
