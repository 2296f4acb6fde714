package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// StateMachine runs program, a random sequence of operations (enqueue,
// claim, every outcome, lease expiry, reclaim, retry, discard, purge, and
// bulk retries and discards by selection), on a fresh store, checking after
// every step that:
//
//   - no ordering key has two events in flight;
//   - an event in flight is the oldest unfinished event of its key (an event
//     retried from dead, which rejoins its key, excepted);
//   - an outcome is recorded exactly when its lease still holds;
//   - attempts stay within bounds and dead or completed events are not claimed;
//   - a bulk repair reports exactly the events it changed, and a bulk
//     discard never deletes an event being delivered;
//
// and, at the end, that delivering whatever is left finishes every event:
// no key is ever stuck. Store tests drive it from a fuzz target and from a
// property test with random programs.
func StateMachine(t testing.TB, s Store, clock *Clock, program []byte) {
	m := &machine{t: t, s: s, clock: clock, ctx: context.Background(), program: program,
		version: map[uuid.UUID]int64{}, revived: map[uuid.UUID]bool{}}
	for m.more() {
		m.step()
		m.checkInvariants()
	}
	m.drain()
}

// machine is the state of one program run: the leases it holds and what it
// knows of the events it enqueued.
type machine struct {
	t       testing.TB
	s       Store
	clock   *Clock
	ctx     context.Context
	program []byte
	pc      int

	held    []*outbox.Event     // claimed and not yet finished by us
	ids     []uuid.UUID         // every event enqueued
	version map[uuid.UUID]int64 // enqueue order, also the entity version
	revived map[uuid.UUID]bool  // retried from dead: may run out of order
	next    int64
}

const lease = time.Minute

func (m *machine) more() bool { return m.pc < len(m.program) }

// byte returns the program's next byte (0 once it is used up).
func (m *machine) byte() byte {
	if m.pc >= len(m.program) {
		return 0
	}
	b := m.program[m.pc]
	m.pc++
	return b
}

func (m *machine) step() {
	switch op := m.byte() % 10; op {
	case 0:
		m.enqueue(int(m.byte()%3) + 1)
	case 1:
		m.claim(int(m.byte()%5) + 1)
	case 2:
		m.finish(m.byte(), m.byte())
	case 3:
		m.clock.Advance(time.Duration(m.byte()%100) * time.Second)
	case 4:
		if _, err := m.s.ReclaimExpired(m.ctx); err != nil {
			m.t.Fatalf("reclaim: %v", err)
		}
	case 5:
		m.retry(m.byte())
	case 6:
		m.discard(m.byte())
	case 7:
		if _, err := m.s.PurgeCompleted(m.ctx, m.clock.Now().Add(-time.Second)); err != nil {
			m.t.Fatalf("purge: %v", err)
		}
	case 8:
		m.retryMatching(m.byte())
	case 9:
		m.discardMatching(m.byte())
	}
}

func (m *machine) enqueue(n int) {
	var evs []outbox.Event
	for range n {
		m.next++
		ev := Event(fmt.Sprintf("k%d", m.byte()%4), int(m.next))
		ev.MaxAttempts = 3
		evs = append(evs, ev)
	}
	stored, err := m.s.EnqueueTx(m.ctx, true, evs...)
	if err != nil {
		m.t.Fatalf("enqueue: %v", err)
	}
	for _, ev := range stored {
		m.ids = append(m.ids, ev.ID)
		m.version[ev.ID] = ev.EntityVersion
	}
}

func (m *machine) claim(limit int) {
	evs, err := m.s.Claim(m.ctx, "machine", limit, lease)
	if err != nil {
		m.t.Fatalf("claim: %v", err)
	}
	for _, ev := range evs {
		if ev.Status != outbox.StatusProcessing || ev.Attempts < 1 || ev.Attempts > ev.MaxAttempts {
			m.t.Fatalf("claimed %s with status %s, attempts %d of %d", ev.AggregateID, ev.Status, ev.Attempts, ev.MaxAttempts)
		}
	}
	m.held = append(m.held, evs...)
}

// finish records an outcome for one of the leases held.
func (m *machine) finish(pick, kind byte) {
	if len(m.held) == 0 {
		return
	}
	i := int(pick) % len(m.held)
	ev := m.held[i]
	m.held = append(m.held[:i], m.held[i+1:]...)
	current, err := m.s.Get(m.ctx, ev.ID)
	// Our lease holds if the event is still ours and the lease unexpired.
	holds := err == nil && current.Status == outbox.StatusProcessing && current.Lease.Token == ev.Lease.Token &&
		current.Lease.Until.After(m.clock.Now())
	out := outbox.Outcome{Event: ev, Kind: outbox.OutcomeKind(kind % 4), Delay: time.Duration(kind%7) * time.Second, Error: "machine",
		Reached: kind&8 != 0, Class: outbox.Class(kind>>4) % (outbox.InProgress + 1)}
	res, err := m.s.Finish(m.ctx, []outbox.Outcome{out})
	if err != nil {
		m.t.Fatalf("finish: %v", err)
	}
	if recorded := len(res.Lost) == 0; recorded != holds {
		m.t.Fatalf("%s of %s recorded=%v, but its lease holds=%v", out.Kind, ev.AggregateID, recorded, holds)
	}
}

func (m *machine) retry(pick byte) {
	if len(m.ids) == 0 {
		return
	}
	id := m.ids[int(pick)%len(m.ids)]
	before, getErr := m.s.Get(m.ctx, id)
	err := m.s.Retry(m.ctx, id)
	switch {
	case err == nil && before.Status == outbox.StatusDead:
		m.revived[id] = true
	case err == nil:
	case errors.Is(err, outbox.ErrNotRetryable), errors.Is(err, outbox.ErrNotFound):
		if getErr == nil && (before.Status == outbox.StatusDead || before.Status == outbox.StatusFailed) {
			m.t.Fatalf("retry of a %s event refused: %v", before.Status, err)
		}
	default:
		m.t.Fatalf("retry: %v", err)
	}
}

func (m *machine) discard(pick byte) {
	if len(m.ids) == 0 {
		return
	}
	id := m.ids[int(pick)%len(m.ids)]
	err := m.s.Discard(m.ctx, id)
	if err != nil && !errors.Is(err, outbox.ErrInFlight) && !errors.Is(err, outbox.ErrNotFound) {
		m.t.Fatalf("discard: %v", err)
	}
}

// snapshot returns every event the store holds, by id.
func (m *machine) snapshot() map[uuid.UUID]*outbox.Event {
	evs, err := m.s.List(m.ctx, outbox.Filter{Limit: 1 << 20})
	if err != nil {
		m.t.Fatalf("list: %v", err)
	}
	byID := make(map[uuid.UUID]*outbox.Event, len(evs))
	for _, ev := range evs {
		byID[ev.ID] = ev
	}
	return byID
}

// limit is a bulk repair's limit drawn from b: none, or 1 to 3.
func limit(b byte) int { return int(b>>4) % 4 }

// retryMatching retries dead events, failed ones or both, and checks that
// exactly the events it reports became pending with a fresh start.
func (m *machine) retryMatching(b byte) {
	sel := outbox.Selection{Statuses: [][]outbox.Status{
		{outbox.StatusDead}, {outbox.StatusFailed}, nil, {outbox.StatusFailed, outbox.StatusDead},
	}[b%4], Limit: limit(b)}
	before := m.snapshot()
	res, err := m.s.RetryMatching(m.ctx, sel, nil)
	if err != nil {
		m.t.Fatalf("retry matching %+v: %v", sel, err)
	}
	changed := 0
	for id, ev := range m.snapshot() {
		was := before[id]
		if was == nil || (was.Status != outbox.StatusDead && was.Status != outbox.StatusFailed) || ev.Status != outbox.StatusPending {
			continue
		}
		if ev.Attempts != 0 || !ev.FailedAt.IsZero() {
			m.t.Fatalf("%s retried with attempts %d, failed at %v", ev.AggregateID, ev.Attempts, ev.FailedAt)
		}
		changed++
		if was.Status == outbox.StatusDead {
			m.revived[id] = true
		}
	}
	if int64(changed) != res.Done || (sel.Limit > 0 && changed > sel.Limit) {
		m.t.Fatalf("retry matching %+v reported %+v; %d events changed", sel, res, changed)
	}
}

// discardMatching discards the events in a status, or in any, and checks
// that exactly as many as it reports are gone, none of them in flight.
func (m *machine) discardMatching(b byte) {
	statuses := append([]outbox.Status{""}, outbox.Statuses()...)
	sel := outbox.Selection{Limit: limit(b)}
	if st := statuses[int(b)%len(statuses)]; st != "" {
		sel.Statuses = []outbox.Status{st}
	}
	before := m.snapshot()
	res, err := m.s.DiscardMatching(m.ctx, sel, nil)
	if err != nil {
		m.t.Fatalf("discard matching %+v: %v", sel, err)
	}
	after := m.snapshot()
	gone := 0
	for id, ev := range before {
		if after[id] != nil {
			continue
		}
		gone++
		if ev.Status == outbox.StatusProcessing && ev.Lease.Until.After(m.clock.Now()) {
			m.t.Fatalf("discard matching %+v deleted %s, in flight", sel, ev.AggregateID)
		}
	}
	if int64(gone) != res.Done || (sel.Limit > 0 && gone > sel.Limit) {
		m.t.Fatalf("discard matching %+v reported %+v; %d events gone", sel, res, gone)
	}
}

// checkInvariants looks at every event the store holds.
func (m *machine) checkInvariants() {
	evs, err := m.s.List(m.ctx, outbox.Filter{Limit: 1 << 20})
	if err != nil {
		m.t.Fatalf("list: %v", err)
	}
	oldest := map[string]int64{} // smallest version of each key's in-order unfinished events
	inFlight := map[string]*outbox.Event{}
	for _, ev := range evs {
		if ev.Attempts < 0 || ev.Attempts > ev.MaxAttempts {
			m.t.Fatalf("%s has attempts %d of %d", ev.AggregateID, ev.Attempts, ev.MaxAttempts)
		}
		if ev.Status.Finished() || m.revived[ev.ID] {
			continue
		}
		if v, ok := oldest[ev.OrderingKey]; !ok || ev.EntityVersion < v {
			oldest[ev.OrderingKey] = ev.EntityVersion
		}
	}
	for _, ev := range evs {
		if ev.Status != outbox.StatusProcessing {
			continue
		}
		if other := inFlight[ev.OrderingKey]; other != nil {
			m.t.Fatalf("key %s has two events in flight: versions %d and %d", ev.OrderingKey, other.EntityVersion, ev.EntityVersion)
		}
		inFlight[ev.OrderingKey] = ev
		if !m.revived[ev.ID] && ev.EntityVersion != oldest[ev.OrderingKey] {
			m.t.Fatalf("key %s: version %d is in flight before version %d", ev.OrderingKey, ev.EntityVersion, oldest[ev.OrderingKey])
		}
	}
}

// drain delivers whatever is left: every event must end completed or dead.
func (m *machine) drain() {
	for round := 0; round < 1000; round++ {
		m.clock.Advance(2 * lease)
		if _, err := m.s.ReclaimExpired(m.ctx); err != nil {
			m.t.Fatal(err)
		}
		evs, err := m.s.Claim(m.ctx, "drain", 100, lease)
		if err != nil {
			m.t.Fatal(err)
		}
		outs := make([]outbox.Outcome, len(evs))
		for i, ev := range evs {
			outs[i] = outbox.Outcome{Event: ev, Kind: outbox.Delivered}
		}
		if _, err := m.s.Finish(m.ctx, outs); err != nil {
			m.t.Fatal(err)
		}
		st, err := m.s.Stats(m.ctx)
		if err != nil {
			m.t.Fatal(err)
		}
		if st.Counts[outbox.StatusPending]+st.Counts[outbox.StatusProcessing]+st.Counts[outbox.StatusFailed] == 0 {
			return
		}
		if len(evs) == 0 {
			wait, ok, err := m.s.NextDue(m.ctx)
			if err != nil || !ok {
				m.t.Fatalf("events wait (%v) but none is claimable and none is due (ok %v, %v): a key is stuck", st.Counts, ok, err)
			}
			m.clock.Advance(wait)
		}
	}
	m.t.Fatal("the outbox did not drain in 1000 rounds")
}

// RandomProgram returns n bytes of program for StateMachine, from seed.
func RandomProgram(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}
