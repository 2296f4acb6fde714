package spec

import (
	"testing"
	"time"
)

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"HeartRate": "heart_rate", "heart-rate": "heart_rate", "lean mass": "lean_mass",
		"body__fat": "body_fat", "percent_": "percent", "Weight": "weight", "BMI": "bmi",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClosest(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"fileds", "fields", true},
		{"priorty", "priority", true},
		{"maxlength", "max_length", true},
		{"colour", "", false},
		{"", "", false},
	} {
		got, ok := closest(tt.in, metricKeys)
		if tt.in == "maxlength" {
			got, ok = closest(tt.in, fieldKeys)
		}
		if got != tt.want || ok != tt.ok {
			t.Errorf("closest(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"kitten", "sitting", 3},
		{"", "abc", 3},
		{"day", "day", 0},
		{"héllo", "hello", 1},
	} {
		if got := editDistance(tt.a, tt.b, 100); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestReservedWords spot-checks the words the spec promises to reject, from
// both dialects.
func TestReservedWords(t *testing.T) {
	for _, w := range []string{
		"select", "from", "where", "order", "group", "user", "table", "index", "limit", "offset",
		"default", "check", "primary", "references", "key", "values", "rowid", "pragma", "vacuum",
	} {
		if !sqlReserved[w] {
			t.Errorf("%q is not in sqlReserved", w)
		}
	}
	for _, w := range []string{"weight", "kg", "count", "score", "note", "hours", "label"} {
		if sqlReserved[w] || goKeywords[w] {
			t.Errorf("%q is reserved, but should be a usable name", w)
		}
	}
}

func TestFmtDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "1h", 10 * time.Minute: "10m", 30 * time.Second: "30s", 90 * time.Minute: "1h30m", 1500 * time.Millisecond: "1.5s",
	} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestDefaultRoute(t *testing.T) {
	for _, tt := range []struct{ prefix, want string }{
		{"/v1", "/v1/weight"}, {"/", "/weight"}, {"/api/v1/", "/api/v1/weight"},
	} {
		if got := defaultRoute(tt.prefix, "weight"); got != tt.want {
			t.Errorf("defaultRoute(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}
