package pgstore_test

import (
	"testing"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Past 10,000 completed events, Stats estimates them from the statistics'
// count of live rows instead of counting them, and says so; the waiting
// ones are still counted exactly.
func TestStatsEstimatesManyCompletedEvents(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	if _, err := (suiteStore{s}).EnqueueTx(ctx, true, pgEvent("a"), pgEvent("b")); err != nil {
		t.Fatal(err)
	}
	const completed = 12_000
	_, err := s.Pool().Exec(ctx, `INSERT INTO outbox_events (id, event_type, aggregate, aggregate_id, user_id, ordering_key,
		is_new_record, entity_version, payload, priority, status, is_head, attempts, max_attempts, run_at, created_at, updated_at, completed_at)
		SELECT gen_random_uuid(), 'weight.updated', 'weight', 'w' || g, 'u', 'weight/w' || g, true, 1, '{}', 5, 'completed', false, 1, 5,
			now(), now(), now(), now()
		FROM generate_series(1, $1) AS g`, completed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, "ANALYZE outbox_events"); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := st.Counts[outbox.StatusCompleted]
	if !st.CompletedEstimated || got < completed*9/10 || got > completed*11/10 {
		t.Fatalf("completed %d, estimated %v; want an estimate near %d", got, st.CompletedEstimated, completed)
	}
	if st.Counts[outbox.StatusPending] != 2 || st.ByType["weight.updated"][outbox.StatusPending] != 2 || st.ByType["weight.updated"][outbox.StatusCompleted] != 0 {
		t.Fatalf("counts %v, by type %v; want 2 pending counted exactly, no completed count by type", st.Counts, st.ByType)
	}
}
