package storetest

import (
	"testing"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// An event an operator revives from the dead rejoins its key where it
// was: ahead of the key's later events still waiting, behind the head
// being delivered. Once revived it is the key's oldest unfinished event,
// whatever the key delivered meanwhile: a later enqueue waits for it, and
// whether it is delivered, discarded or killed again, the key goes on with
// its next event.
func testRevivedEventsRejoinTheirKeys(t *testing.T, e *env) {
	retry := func(ev outbox.Event) {
		t.Helper()
		if err := e.store.Retry(e.ctx, ev.ID); err != nil {
			t.Fatal(err)
		}
	}
	// claimInOrder delivers the key's events one claim at a time and checks
	// that they come in the given order.
	claimInOrder := func(key string, want ...outbox.Event) {
		t.Helper()
		for _, w := range want {
			c := e.wantClaim(key)
			if c[0].ID != w.ID {
				t.Fatalf("key %s: claimed version %d, want %d", key, c[0].EntityVersion, w.EntityVersion)
			}
			e.finish(delivered(c[0]))
		}
		e.wantClaim()
	}

	// Revived while the key's next event waits: between the head and it.
	b := e.enqueue(Event("b", 1), Event("b", 2), Event("b", 3))
	e.kill("b")
	retry(b[0])
	claimInOrder("b", b[1], b[0], b[2])

	// Revived after the key delivered a later event: the head at once, and
	// the next save of the entity waits behind it.
	d := e.enqueue(Event("d", 1), Event("d", 2))
	e.kill("d")
	claimInOrder("d", d[1])
	retry(d[0])
	d = append(d, e.enqueue(Event("d", 3))...)
	claimInOrder("d", d[0], d[2])

	// Discarded once revived: the key goes on with its next save.
	x := e.enqueue(Event("x", 1), Event("x", 2))
	e.kill("x")
	claimInOrder("x", x[1])
	retry(x[0])
	x = append(x, e.enqueue(Event("x", 3))...)
	if err := e.store.Discard(e.ctx, x[0].ID); err != nil {
		t.Fatal(err)
	}
	claimInOrder("x", x[2])

	// Killed again once revived, and revived again.
	r := e.enqueue(Event("r", 1), Event("r", 2))
	e.kill("r")
	claimInOrder("r", r[1])
	retry(r[0])
	e.kill("r")
	r = append(r, e.enqueue(Event("r", 3))...)
	claimInOrder("r", r[2])
	retry(r[0])
	r = append(r, e.enqueue(Event("r", 4))...)
	claimInOrder("r", r[0], r[3])

	// Two dead events of a key revived by one bulk retry after the key
	// delivered a third: oldest first, and a later save waits for both.
	m := e.enqueue(Event("m", 1), Event("m", 2), Event("m", 3))
	e.kill("m")
	e.kill("m")
	claimInOrder("m", m[2])
	if res, err := e.store.RetryMatching(e.ctx, outbox.Selection{Statuses: dead}, nil); err != nil || res.Done != 2 {
		t.Fatalf("bulk retry: %+v, %v; want m's two dead events", res, err)
	}
	m = append(m, e.enqueue(Event("m", 4))...)
	claimInOrder("m", m[0], m[1], m[3])
}
