package httpsender

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestExcerpt(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"   \n\t ", ""},
		{"plain", "plain"},
		{"  a\x00\x01b\r\n\r\nc  ", "a b c"},
		{"ansi \x1b[31mred\x1b[0m", "ansi [31mred [0m"},
		{"bad \xff utf8", "bad \ufffd utf8"},
		{"c1 \u0085 next", "c1 next"},
	}
	for _, tc := range cases {
		if got := excerpt([]byte(tc.in)); got != tc.want {
			t.Errorf("excerpt(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := excerpt([]byte(strings.Repeat("é", 300)))
	if len(long) > maxExcerpt || !utf8.ValidString(long) || len(long) < maxExcerpt-1 {
		t.Errorf("long excerpt is %d bytes, valid UTF-8 %v", len(long), utf8.ValidString(long))
	}
	words := excerpt([]byte(strings.Repeat("ab   ", 100)))
	if len(words) > maxExcerpt || strings.HasSuffix(words, " ") {
		t.Errorf("word excerpt %q: %d bytes", words, len(words))
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{" 30 ", 30 * time.Second},
		{"86400", 24 * time.Hour},
		{"86401", 24 * time.Hour},
		{"999999999999999999999999", 24 * time.Hour},
		{"-1", 0},
		{"1.5", 0},
		{"+3", 0},
		{"later", 0},
		{now.Add(2 * time.Minute).Format(http.TimeFormat), 2 * time.Minute},
		{"Sunday, 01-Mar-26 12:00:10 GMT", 10 * time.Second}, // RFC 850
		{"Sun Mar  1 12:00:20 2026", 20 * time.Second},       // asctime
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), 24 * time.Hour},
	}
	for _, tc := range cases {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
