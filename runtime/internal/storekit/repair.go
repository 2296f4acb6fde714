package storekit

import (
	"context"
	"fmt"
	"slices"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// RepairBatch is how many events a bulk repair changes per transaction:
// enough that a repair of thousands takes a few statements, few enough
// that no transaction holds many locks or runs long.
const RepairBatch = 500

// Statuses returns the statuses a bulk repair named verb acts on: those
// sel names, which must be among applies, or else applies.
func Statuses(verb string, sel outbox.Selection, applies ...outbox.Status) ([]string, error) {
	if sel.Limit < 0 {
		return nil, fmt.Errorf("%s: negative limit %d", verb, sel.Limit)
	}
	chosen := sel.Statuses
	if len(chosen) == 0 {
		chosen = applies
	}
	out := make([]string, len(chosen))
	for i, st := range chosen {
		if !slices.Contains(applies, st) {
			return nil, fmt.Errorf("%s applies to events that are %s, not %q", verb, list(applies), st)
		}
		out[i] = string(st)
	}
	return out, nil
}

func list(ss []outbox.Status) string {
	s := ""
	for i, st := range ss {
		switch {
		case i == 0:
		case i == len(ss)-1:
			s += " or "
		default:
			s += ", "
		}
		s += string(st)
	}
	return s
}

// Batch is one transaction of a bulk repair: it changes up to max of the
// selected events and says how many it changed (done) and how many it
// found locked by a processor recording an outcome, and left alone
// (held). Selected events a processor is delivering are no candidates.
type Batch func(ctx context.Context, max int) (done, held int, err error)

// heldRetry paces the batches tried again when every candidate was
// locked: a processor holds an event's lock only while recording an
// outcome, for milliseconds.
var heldRetry = outbox.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond}

// Bulk runs batch until no selected event is left to change, or limit
// events were changed (limit 0: no limit), calling progress after each
// batch that changed something. Events held by processors are tried again
// a few times; those still held are reported as skipped.
func Bulk(ctx context.Context, limit int, batch Batch, progress func(outbox.BulkResult)) (outbox.BulkResult, error) {
	var res outbox.BulkResult
	for tries := 0; limit == 0 || res.Done < int64(limit); {
		n := RepairBatch
		if limit > 0 {
			n = min(n, limit-int(res.Done))
		}
		done, held, err := batch(ctx, n)
		res.Done += int64(done)
		switch {
		case err != nil:
			return res, err
		case done > 0:
			tries = 0
			if progress != nil {
				progress(res)
			}
			continue
		case held == 0:
			return res, nil
		case tries == 3:
			res.Skipped = int64(held)
			return res, nil
		}
		tries++
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(heldRetry.Delay(tries)):
		}
	}
	return res, nil
}
