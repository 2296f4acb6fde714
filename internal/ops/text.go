package ops

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// clean makes text from the database safe to print on a terminal: control
// characters (escape sequences could retitle the terminal, move the cursor
// or hide rows), bidirectional overrides and invalid UTF-8 are written as
// Go escapes, e.g. "\x1b", and a backslash as "\\" so that escapes stay
// unambiguous.
func clean(s string) string {
	if !needsCleaning(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func needsCleaning(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\\' || unsafeRune(r) {
			return true
		}
	}
	return false
}

// unsafeRune reports C1 controls and the invisible characters that reorder
// or hide text: bidirectional embeddings, overrides and isolates, and the
// line and paragraph separators.
func unsafeRune(r rune) bool {
	return (r >= 0x80 && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) ||
		r == 0x200e || r == 0x200f || r == 0x061c || r == 0x2028 || r == 0x2029
}

// cleanText is text clean already made safe to print: a table prints it
// as it is, where it cleans anything else, so that nothing is escaped
// twice.
type cleanText string

// truncate cleans s, folds its runs of spaces, and shortens it to n runes.
func truncate(s string, n int) cleanText {
	s = clean(strings.Join(strings.Fields(s), " "))
	if utf8.RuneCountInString(s) <= n {
		return cleanText(s)
	}
	return cleanText(string([]rune(s)[:n-1]) + "…")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// age writes a duration for people: 4m12s, 3h5m, 2d4h.
func age(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	}
	days := int(d / (24 * time.Hour))
	return fmt.Sprintf("%dd%dh", days, int((d-time.Duration(days)*24*time.Hour)/time.Hour))
}

// cleanJSON makes a JSON document safe to print on a terminal and keeps it
// valid JSON: the characters clean escapes, which JSON strings may hold
// raw, are written as \u escapes; backslashes stay as they are.
func cleanJSON(doc []byte) string {
	var b strings.Builder
	for _, r := range string(doc) {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' || r == 0x7f || unsafeRune(r) || r == utf8.RuneError {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
