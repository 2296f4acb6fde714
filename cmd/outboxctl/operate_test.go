package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// The operator's verbs through the real binary, on both stores: a pause
// recorded with who and why and shown by status, its resume, and a bulk
// retry of more dead events than one batch, counted exactly.
func TestPauseResumeAndBulkRetry(t *testing.T) {
	eachStore(t, func(t *testing.T, o outboxOn) {
		if r := ctl(t, o.with("pause", "--type", "weight.created", "--reason", "INC-42: weight route down", "--by", "ada")...); r.code != 0 {
			t.Fatalf("pause: %s", r)
		}
		r := ctl(t, o.with("status", "--json")...)
		var st struct {
			OperatorPauses []struct {
				EventType string `json:"event_type"`
				By        string `json:"by"`
				Reason    string `json:"reason"`
			} `json:"operator_pauses"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st.OperatorPauses) != 1 ||
			st.OperatorPauses[0].EventType != "weight.created" || st.OperatorPauses[0].By != "ada" || st.OperatorPauses[0].Reason != "INC-42: weight route down" {
			t.Fatalf("status --json after pause: %v %s", err, r)
		}
		if r := ctl(t, o.with("resume")...); r.code != 0 || !strings.Contains(r.stdout, "resumed delivery of weight.created (paused by ada") {
			t.Fatalf("resume: %s", r)
		}

		const n = 600
		evs := make([]outbox.Event, n)
		for i := range evs {
			evs[i] = weightEvent("ada")
		}
		o.enqueue(evs...)
		for {
			claimed, err := o.store.Claim(t.Context(), "test", 250, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if len(claimed) == 0 {
				break
			}
			outs := make([]outbox.Outcome, len(claimed))
			for i, ev := range claimed {
				outs[i] = outbox.Outcome{Event: ev, Kind: outbox.Dead, Error: "permanent: 422"}
			}
			if _, err := o.store.Finish(t.Context(), outs); err != nil {
				t.Fatal(err)
			}
		}
		r = ctl(t, o.with("retry", "--all-dead", "--json")...)
		var rep struct{ Selected, Done, Skipped, Remaining int64 }
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || rep.Selected != n || rep.Done != n || rep.Remaining != 0 {
			t.Fatalf("retry --all-dead --json: %v %s", err, r)
		}
		if st, err := o.store.Stats(t.Context()); err != nil || st.Counts[outbox.StatusPending] != n || st.Counts[outbox.StatusDead] != 0 {
			t.Fatalf("after the bulk retry: %v %v", st.Counts, err)
		}
	})
}
