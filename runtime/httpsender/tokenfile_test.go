package httpsender

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokenFileFollowsRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path+".new", []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	src := TokenFile(path)
	if _, err := src.Token(t.Context(), false); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a missing file: %v; want an error naming it", err)
	}
	write("first-token\n")
	if tok, err := src.Token(t.Context(), false); err != nil || tok != "first-token" {
		t.Fatalf("Token = %q, %v; want the file's content without its newline", tok, err)
	}
	write("second-token-longer\n")
	if tok, err := src.Token(t.Context(), false); err != nil || tok != "second-token-longer" {
		t.Fatalf("after rotation: %q, %v", tok, err)
	}
	write("\n")
	if _, err := src.Token(t.Context(), true); err == nil || strings.Contains(err.Error(), "second-token") {
		t.Fatalf("an empty file: %v; want an error that quotes no token", err)
	}
	write("bad\x01token")
	if _, err := src.Token(t.Context(), true); err == nil || strings.Contains(err.Error(), "bad") {
		t.Fatalf("a token with control characters: %v; want an error that does not quote it", err)
	}
}
