package storekit

import (
	"strings"
	"testing"
	"unicode/utf8"
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
