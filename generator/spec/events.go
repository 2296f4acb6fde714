package spec

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// eventKinds are the changes a metric has event types for, in the order of
// Events' fields.
var eventKinds = []string{"created", "updated", "deleted"}

// eventUse is one event type a metric uses, remembered for the check
// that no two uses share a type.
type eventUse struct {
	eventType, metric, kind string
	// at is the explicit value, or the metric's name when defaulted.
	at        *yaml.Node
	defaulted bool
}

// events reads a metric's events mapping (n may be nil: all defaults).
// Unset event types are "<metric>.<kind>"; metricKey is the metric's name
// in the file, where a clash of a defaulted type is reported.
func (w *walker) events(metricKey, n *yaml.Node, s scope, metric string) Events {
	ev := Events{
		Created:        metric + ".created",
		Updated:        metric + ".updated",
		Deleted:        metric + ".deleted",
		PayloadVersion: 1,
	}
	o := &object{} // no mapping: every get returns nil
	if n != nil {
		o = w.object(metricKey, n, s, eventsKeys, "a mapping like {created: weight.created, payload_version: 1}")
	}
	for _, kind := range eventKinds {
		v := o.get(kind)
		if v == nil {
			w.eventUses = append(w.eventUses, eventUse{*ev.of(kind), metric, kind, metricKey, true})
			continue
		}
		if t, ok := w.eventType(v, s.of(kind)); ok {
			*ev.of(kind) = t
			w.eventUses = append(w.eventUses, eventUse{t, metric, kind, v, false})
		}
	}
	if v := o.get("payload_version"); v != nil {
		if pv, ok := w.wholeNumber(v, s.of("payload_version"), 1, maxPayloadVersion); ok {
			ev.PayloadVersion = pv
		}
	}
	return ev
}

// of returns the event type for kind, one of eventKinds.
func (e *Events) of(kind string) *string {
	switch kind {
	case "created":
		return &e.Created
	case "updated":
		return &e.Updated
	}
	return &e.Deleted
}

// checkEventTypes reports event types used twice anywhere in the spec:
// senders route by type, so a shared one would deliver one metric's events
// as another's. Each is reported at the later use, which is the explicit
// value when there is one, else the name of the metric it is the default of.
func (w *walker) checkEventTypes() {
	first := map[string]eventUse{}
	for _, u := range w.eventUses {
		prev, dup := first[u.eventType]
		if !dup {
			first[u.eventType] = u
			continue
		}
		what := "event type " + show(u.eventType)
		if u.defaulted {
			what += fmt.Sprintf(" (the default for %s events of metric %s)", u.kind, show(u.metric))
		}
		w.errorf(u.at, "%s is already used for %s events of metric %s (line %d); every event type must be unique, so set events.%s to another name",
			what, prev.kind, show(prev.metric), prev.at.Line, u.kind)
	}
}
