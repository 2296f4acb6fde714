package ops

import (
	"encoding/json"
	"testing"
)

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"ada":                     "ada",
		"Zoë 😀":                   "Zoë 😀",
		"a\x1b]0;title\x07b":      `a\x1b]0;title\x07b`,
		"line\nnext\r\tx":         `line\nnext\r\tx`,
		"back\\slash":             `back\\slash`,
		"\u202eevil\u2066":        `\u202eevil\u2066`,
		"c1\u009bcontrol\x7f":     `c1\u009bcontrol\x7f`,
		"bad\xffutf8":             `bad\xffutf8`,
		"para\u2028sep\u200fmark": `para\u2028sep\u200fmark`,
	} {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCleanJSONStaysJSON(t *testing.T) {
	doc := []byte("{\"note\":\"a\\u001b[2J \u202e \\\"q\\\"\"}")
	got := cleanJSON(doc)
	var v map[string]string
	if err := json.Unmarshal([]byte(got), &v); err != nil || v["note"] != "a\x1b[2J \u202e \"q\"" {
		t.Fatalf("cleanJSON(%s) = %s, which decodes to %q (%v)", doc, got, v["note"], err)
	}
	for _, r := range got {
		if r < 0x20 || unsafeRune(r) {
			t.Fatalf("cleanJSON left %U in %s", r, got)
		}
	}
}
