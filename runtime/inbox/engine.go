package inbox

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/google/uuid"
)

// maxPerTx bounds the deliveries one transaction takes. A store may take a
// lock per key (pginbox takes an advisory lock, which PostgreSQL keeps in a
// shared table of bounded size), so a batch of 1000 events is processed in
// transactions of at most this many.
const maxPerTx = 64

// txEngine runs deliveries through the transactions of a Store[Tx].
type txEngine[Tx any] struct {
	store Store[Tx]
	apply map[string]func(ctx context.Context, tx Tx, c Change, value any) error
	log   *slog.Logger
}

// process gives every delivery an outcome. Deliveries share transactions;
// when one fails (an application's error, a deadlock, a refusal), its
// deliveries are processed again one per transaction, so that only the
// change at fault fails.
func (e *txEngine[Tx]) process(ctx context.Context, ds []*delivery) {
	for chunk := range slices.Chunk(ds, maxPerTx) {
		err := e.once(ctx, chunk)
		if err == nil {
			continue
		}
		if len(chunk) == 1 || ctx.Err() != nil {
			for _, d := range chunk {
				d.fail(err, e.log)
			}
			continue
		}
		for _, d := range chunk {
			if err := e.once(ctx, []*delivery{d}); err != nil {
				d.fail(err, e.log)
			}
		}
	}
}

// once processes ds in one transaction and, if it commits, gives each its
// outcome:
//
//   - a key another transaction holds: 409, in progress;
//   - a key completed before: its stored answer again, or 422 if it came
//     with another body;
//   - a change whose version is above its entity's: applied, and answered
//     201 (the entity is new) or 200;
//   - a change at or below its entity's version: acknowledged (200), not
//     applied;
//   - a change of an entity that belongs to another user: 403.
//
// Answers other than 409 and 403 are recorded with their keys, in the
// transaction that applies the change.
func (e *txEngine[Tx]) once(ctx context.Context, ds []*delivery) error {
	outcomes := make([]*outcome, len(ds))
	err := e.store.InTx(ctx, func(tx Tx) error {
		clear(outcomes) // a store may retry fn
		fresh, err := e.recall(ctx, tx, ds, outcomes)
		if err != nil {
			return err
		}
		var records []Record
		for _, wave := range waves(ds, fresh) {
			entities := make([]Entity, len(wave))
			for j, i := range wave {
				entities[j] = ds[i].entity(uuid.NewString())
			}
			advanced, err := e.store.Advance(ctx, tx, entities)
			if err != nil {
				return fmt.Errorf("advance versions: %w", err)
			}
			for j, i := range wave {
				d, a := ds[i], advanced[j]
				switch {
				case a.Advanced:
					if err := e.apply[d.metric.name](ctx, tx, d.change(a), d.decoded.Value); err != nil {
						return fmt.Errorf("apply %s: %w", d.describe(), err)
					}
				case a.UserID != d.decoded.UserID:
					outcomes[i] = &outcome{problem: problem("forbidden", "the entity belongs to another user")}
					continue
				}
				ans := answerOf(d, a, a.Advanced)
				outcomes[i] = &outcome{answer: ans}
				records = append(records, Record{Key: d.key, Fingerprint: d.fingerprint(), Metric: d.metric.name, EntityID: d.decoded.EntityID, Answer: ans})
			}
		}
		if len(records) == 0 {
			return nil
		}
		if err := e.store.Remember(ctx, tx, records); err != nil {
			return fmt.Errorf("record keys: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, d := range ds {
		d.outcome = outcomes[i]
	}
	return nil
}

// recall claims the keys of ds and looks them up: it decides the outcome
// of those in progress and of those completed before, and returns the
// indexes of the others, whose changes are new.
func (e *txEngine[Tx]) recall(ctx context.Context, tx Tx, ds []*delivery, outcomes []*outcome) ([]int, error) {
	keys := make([]string, len(ds))
	for i, d := range ds {
		keys[i] = d.key
	}
	claimed, err := e.store.Claim(ctx, tx, keys)
	if err != nil {
		return nil, fmt.Errorf("claim keys: %w", err)
	}
	var open []int
	var asked []Key
	for i, ok := range claimed {
		if !ok {
			outcomes[i] = &outcome{problem: problem("in-progress", "")}
			continue
		}
		open = append(open, i)
		asked = append(asked, Key{Key: ds[i].key, Fingerprint: ds[i].fingerprint()})
	}
	if len(asked) == 0 {
		return nil, nil
	}
	recalled, err := e.store.Recall(ctx, tx, asked)
	if err != nil {
		return nil, fmt.Errorf("recall keys: %w", err)
	}
	var fresh []int
	for j, i := range open {
		switch r := recalled[j]; {
		case !r.Found:
			fresh = append(fresh, i)
		case r.Same:
			outcomes[i] = &outcome{answer: r.Answer, replayed: true}
		default:
			outcomes[i] = &outcome{problem: problem("key-reused", "")}
		}
	}
	return fresh, nil
}

// waves splits the indexes of ds into groups in which no entity appears
// twice, in order: a store advances a group in one statement, and the
// changes of one entity are applied in the order they came.
func waves(ds []*delivery, indexes []int) [][]int {
	type entityKey struct {
		metric string
		id     uuid.UUID
	}
	var out [][]int
	seen := map[entityKey]int{} // how many changes of the entity are placed
	for _, i := range indexes {
		k := entityKey{ds[i].metric.name, ds[i].decoded.EntityID}
		w := seen[k]
		seen[k] = w + 1
		if w == len(out) {
			out = append(out, nil)
		}
		out[w] = append(out[w], i)
	}
	return out
}
