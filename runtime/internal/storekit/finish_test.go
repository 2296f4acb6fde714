package storekit

import (
	"strings"
	"testing"
	"unicode/utf8"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

func TestBoundError(t *testing.T) {
	long := strings.Repeat("é", MaxErrorBytes)
	got := boundError("503\nService\tUnavailable: " + long)
	if len(got) > MaxErrorBytes || !utf8.ValidString(got) || strings.ContainsAny(got, "\n\t") || !strings.HasSuffix(got, "…") {
		t.Fatalf("bounded error: %d bytes, valid %v: %q…", len(got), utf8.ValidString(got), got[:40])
	}
	if got := boundError("short\x00error"); got != "short error" {
		t.Fatalf("%q", got)
	}
}

func TestNormalizeKillsRetryPastLastAttempt(t *testing.T) {
	last := &outbox.Event{Attempts: 3, MaxAttempts: 3}
	early := &outbox.Event{Attempts: 2, MaxAttempts: 3}
	got := normalize([]outbox.Outcome{
		{Event: last, Kind: outbox.Retry, Error: "503"},
		{Event: early, Kind: outbox.Retry, Error: "503"},
	})
	if got[0].Kind != outbox.Dead || got[0].Error != "gave up after 3 attempts: 503" {
		t.Errorf("retry on the last attempt recorded as %s %q, want dead", got[0].Kind, got[0].Error)
	}
	if got[1].Kind != outbox.Retry || got[1].Error != "503" {
		t.Errorf("retry with attempts left recorded as %s %q", got[1].Kind, got[1].Error)
	}
}
