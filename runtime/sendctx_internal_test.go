package outbox

import (
	"context"
	"testing"
	"time"
)

// The contexts a claim's sends share end with the last reference to them,
// not before: a send whose context ended early would take it for its
// deadline, and count as unanswered. The wait ends when the processor
// begins to stop, while the sends go on.
func TestSendContextsEndWithTheirLastSend(t *testing.T) {
	stopping, beginStop := context.WithCancel(context.Background())
	defer beginStop()
	r := &run{stopping: stopping}
	sc := r.newSendContexts(context.Background(), time.Now().Add(time.Hour))
	sc.hold()
	sc.hold()
	sc.release() // the claim, once it started both sends
	sc.release() // one send ends
	if sc.send.Err() != nil || sc.wait.Err() != nil {
		t.Fatalf("a send still holds the contexts, and they ended: send %v, wait %v", sc.send.Err(), sc.wait.Err())
	}
	beginStop()
	waitDone(t, sc.wait, "the wait, once the processor began to stop")
	if sc.send.Err() != nil {
		t.Fatalf("the processor began to stop and the send context ended: %v", sc.send.Err())
	}
	sc.release() // the last send ends
	if sc.send.Err() == nil {
		t.Fatal("the last send ended and the send context did not")
	}
}

// A claim's send deadline ends its sends' context, as each send's own
// deadline did.
func TestSendContextsEndAtTheDeadline(t *testing.T) {
	r := &run{stopping: context.Background()}
	deadline := time.Now().Add(time.Millisecond)
	sc := r.newSendContexts(context.Background(), deadline)
	defer sc.release()
	waitDone(t, sc.send, "the send context, at its deadline")
	waitDone(t, sc.wait, "the wait, at the deadline")
	if sc.send.Err() != context.DeadlineExceeded {
		t.Fatalf("send context ended with %v, want the deadline", sc.send.Err())
	}
	if d, ok := sc.send.Deadline(); !ok || !d.Equal(deadline) {
		t.Fatalf("send context's deadline %v (%v), want %v", d, ok, deadline)
	}
}

// waitDone fails the test unless ctx ends within a few seconds.
func waitDone(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not end", what)
	}
}
