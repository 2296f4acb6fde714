package spec

import (
	"math"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultMaxLength bounds string fields that give no max_length: long enough
// for a note, short enough for an index and a form field.
const DefaultMaxLength = 255

// Ranges of the numeric settings.
const (
	minPriority, maxPriority       = 1, 10 // as the runtime's outbox.MaxPriority
	minMaxAttempts, maxMaxAttempts = 1, 100
	maxStringLength                = 65535
	maxPayloadVersion              = math.MaxInt32
)

// settings are what a metric inherits: the top-level defaults, themselves
// defaulted from the built-in ones below.
type settings struct {
	priority    int
	maxAttempts int
	backoff     Backoff
	dedupe      Dedupe
	routePrefix string
}

// builtin are the defaults when the spec gives none. Priority, attempts and
// backoff are the runtime's own defaults, so a spec that says nothing
// behaves like the hand-written outbox it replaces.
func builtin() settings {
	return settings{
		priority:    5,
		maxAttempts: 5,
		backoff:     Backoff{Base: 30 * time.Second, Max: time.Hour},
		dedupe:      Dedupe{Window: WindowDay, TimeZone: "UTC"},
		routePrefix: "/v1",
	}
}

// defaults reads the defaults mapping over the built-in settings.
func (w *walker) defaults(key, n *yaml.Node) settings {
	def := builtin()
	s := scope{path: "defaults"}
	o := w.object(key, n, s, defaultsKeys, "a mapping of default settings for every metric")
	w.common(o, &def)
	if v := o.get("route_prefix"); v != nil {
		if p, ok := w.route(v, s.of("route_prefix")); ok {
			def.routePrefix = p
		}
	}
	return def
}

// common reads the settings a metric and the defaults share into set,
// which holds the values they override.
func (w *walker) common(o *object, set *settings) {
	s := o.scope
	if v := o.get("priority"); v != nil {
		if p, ok := w.wholeNumber(v, s.of("priority"), minPriority, maxPriority); ok {
			set.priority = p
		}
	}
	if v := o.get("max_attempts"); v != nil {
		if m, ok := w.wholeNumber(v, s.of("max_attempts"), minMaxAttempts, maxMaxAttempts); ok {
			set.maxAttempts = m
		}
	}
	if v := o.get("backoff"); v != nil {
		set.backoff = w.backoff(o.key("backoff"), v, s.child("backoff"), set.backoff)
	}
	if v := o.get("dedupe"); v != nil {
		set.dedupe = w.dedupe(o.key("dedupe"), v, s.child("dedupe"), set.dedupe)
	}
}

// backoff reads a backoff mapping over def; either key may be left out.
func (w *walker) backoff(key, n *yaml.Node, s scope, def Backoff) Backoff {
	o := w.object(key, n, s, backoffKeys, `a mapping like {base: 30s, max: 1h}`)
	b := def
	baseOK, maxOK := true, true
	if v := o.get("base"); v != nil {
		b.Base, baseOK = w.duration(v, s.of("base"))
	}
	if v := o.get("max"); v != nil {
		b.Max, maxOK = w.duration(v, s.of("max"))
	}
	if !baseOK || !maxOK {
		return def
	}
	if b.Base > b.Max {
		base, limit := fmtDuration(b.Base), fmtDuration(b.Max)
		at := o.get("base")
		if at == nil {
			at, base = o.get("max"), base+" (the default)"
		} else if o.get("max") == nil {
			limit += " (the default)"
		}
		w.errorf(at, "%s has base %s, longer than max %s; base must not exceed max", s.name(), base, limit)
		return def
	}
	return b
}

// fmtDuration drops the zero units time.Duration.String adds: "1h", not "1h0m0s".
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// dedupe reads a dedupe setting over def: either a window alone
// ("dedupe: hour", keeping def's zone) or a mapping of window and time_zone,
// either of which may be left out.
func (w *walker) dedupe(key, n *yaml.Node, s scope, def Dedupe) Dedupe {
	windows := strs(allWindows)
	d := def
	if n.Kind == yaml.ScalarNode {
		if win, ok := w.oneOf(n, s.name(), windows); ok {
			d.Window = Window(win)
		}
		return d
	}
	o := w.object(key, n, s, dedupeKeys, "a window such as day, or a mapping like {window: day, time_zone: Europe/Paris}")
	if v := o.get("window"); v != nil {
		if win, ok := w.oneOf(v, s.of("window"), windows); ok {
			d.Window = Window(win)
		}
	}
	if v := o.get("time_zone"); v != nil {
		if tz, ok := w.timeZone(v, s.of("time_zone")); ok {
			d.TimeZone = tz
		}
	}
	return d
}
