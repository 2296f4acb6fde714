package spec

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The readers below turn one YAML value into one Go value. Each reports a
// wrong value in the author's terms, with the subject naming where it is
// (`priority of metric "weight"`), and returns ok=false so that checks
// depending on the value are skipped rather than piled on.

// isValue reports whether n is a single, non-empty value: not a mapping, not
// a list, not left blank.
func isValue(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null"
}

// text reads a value as text. Numbers and booleans are taken as written, so
// "unit: 1" is the text "1". maxLen, when above zero, bounds its length in
// characters.
func (w *walker) text(n *yaml.Node, subject string, maxLen int) (string, bool) {
	if !isValue(n) {
		w.errorf(n, "%s must be text, got %s", subject, got(n))
		return "", false
	}
	if count := utf8.RuneCountInString(n.Value); maxLen > 0 && count > maxLen {
		w.errorf(n, "%s is %d characters long; the limit is %d", subject, count, maxLen)
		return "", false
	}
	return n.Value, true
}

// numberValue returns n as a finite number, if it is one. Quoted numbers are
// text in YAML and do not count.
func numberValue(n *yaml.Node) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		return 0, false
	}
	var f float64
	if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// number reads a finite number.
func (w *walker) number(n *yaml.Node, subject string) (float64, bool) {
	f, ok := numberValue(n)
	if !ok {
		w.errorf(n, "%s must be a number, got %s%s", subject, got(n), unquoteHint(n))
	}
	return f, ok
}

// wholeNumber reads a whole number from lo to hi. "5.0" counts: it is whole.
func (w *walker) wholeNumber(n *yaml.Node, subject string, lo, hi int) (int, bool) {
	f, ok := numberValue(n)
	if !ok || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		w.errorf(n, "%s must be a whole number from %d to %d, got %s%s", subject, lo, hi, got(n), unquoteHint(n))
		return 0, false
	}
	return int(f), true
}

// boolean reads true or false. YAML 1.1's yes/no/on/off are not booleans in
// the YAML this format uses, and are reported rather than guessed at.
func (w *walker) boolean(n *yaml.Node, subject string) (bool, bool) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		w.errorf(n, "%s must be true or false, got %s%s", subject, got(n), unquoteHint(n))
		return false, false
	}
	return b, true
}

// maxDuration bounds backoff durations: waiting longer than a day between
// tries of a health metric's delivery is never what was meant.
const maxDuration = 24 * time.Hour

// duration reads a positive duration such as "30s", "5m" or "1h30m".
func (w *walker) duration(n *yaml.Node, subject string) (time.Duration, bool) {
	if !isValue(n) {
		w.errorf(n, `%s must be a duration like "30s", "5m" or "1h", got %s`, subject, got(n))
		return 0, false
	}
	d, err := time.ParseDuration(n.Value)
	switch {
	case err != nil && n.ShortTag() != "!!str":
		w.errorf(n, `%s must be a duration with a unit, like "30s", "5m" or "1h", got %s; add a unit (ms, s, m or h)`, subject, got(n))
	case err != nil:
		w.errorf(n, `%s must be a duration like "30s", "5m" or "1h", got %s`, subject, got(n))
	case d <= 0:
		w.errorf(n, "%s must be longer than zero, got %s", subject, got(n))
	case d > maxDuration:
		w.errorf(n, "%s must be at most 24h, got %s", subject, got(n))
	default:
		return d, true
	}
	return 0, false
}

// oneOf reads one of a fixed set of words, suggesting the closest one for a
// near miss.
func (w *walker) oneOf(n *yaml.Node, subject string, options []string) (string, bool) {
	if isValue(n) && slices.Contains(options, n.Value) {
		return n.Value, true
	}
	msg := fmt.Sprintf("%s must be one of %s, got %s", subject, strings.Join(options, ", "), got(n))
	if isValue(n) {
		if best, ok := closest(n.Value, options); ok {
			msg += fmt.Sprintf("; did you mean %q?", best)
		}
	}
	w.errorf(n, "%s", msg)
	return "", false
}

// list reads a list; example shows one, for when n is something else.
func (w *walker) list(n *yaml.Node, subject, example string) ([]*yaml.Node, bool) {
	if n.Kind != yaml.SequenceNode {
		w.errorf(n, "%s must be a list such as %s, got %s", subject, example, got(n))
		return nil, false
	}
	return n.Content, true
}

// unquoteHint explains a quoted number or boolean, which YAML reads as text.
func unquoteHint(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
		return ""
	}
	plain := &yaml.Node{Kind: yaml.ScalarNode, Value: n.Value}
	switch plain.ShortTag() {
	case "!!int", "!!float", "!!bool":
		return "; remove the quotes, which make it text"
	}
	return ""
}
