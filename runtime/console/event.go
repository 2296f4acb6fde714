package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// eventData is what an event's page shows.
type eventData struct {
	Event    *outbox.Event
	Metadata [][2]string // sorted by key
	// Payload is the pretty-printed payload, set only after a reveal.
	Payload  string
	Revealed bool
	// Attempts is the attempt history; HasHistory is false when the store
	// keeps none.
	Attempts   []outbox.Attempt
	HasHistory bool
	CanRetry   bool
}

// event serves an event's page, its payload hidden.
func (c *console) event(w http.ResponseWriter, r *http.Request) {
	c.showEvent(w, r, false)
}

// reveal serves an event's page with its payload, and logs who saw it.
// It is a POST, with the anti-forgery token, so that no link, prefetch or
// crawler reveals a payload and every reveal in the log was asked for.
func (c *console) reveal(w http.ResponseWriter, r *http.Request) {
	if !c.checkCSRF(w, r) {
		return
	}
	c.showEvent(w, r, true)
}

func (c *console) showEvent(w http.ResponseWriter, r *http.Request, reveal bool) {
	ev, ok := c.loadEvent(w, r)
	if !ok {
		return
	}
	d := &eventData{Event: ev, Revealed: reveal, HasHistory: c.opts.History != nil,
		CanRetry: ev.Status == outbox.StatusDead || ev.Status == outbox.StatusFailed}
	for _, k := range slices.Sorted(maps.Keys(ev.Metadata)) {
		d.Metadata = append(d.Metadata, [2]string{k, ev.Metadata[k]})
	}
	if reveal {
		c.log.Info("console: payload revealed", "event", ev.ID, "event_type", ev.Type, "user", user(r), "at", c.opts.Now().UTC())
		d.Payload = prettyJSON(ev.Payload)
	}
	ev.Payload = nil // from here on nothing can show it by mistake
	if c.opts.History != nil {
		var err error
		if d.Attempts, err = c.opts.History.EventAttempts(r.Context(), ev.ID); err != nil {
			c.failErr(w, r, "read the event's attempts", err)
			return
		}
	}
	c.render(w, r, http.StatusOK, "event", c.newView(r, "Event "+ev.ID.String(), d))
}

// loadEvent reads the event named in the path, or answers why it cannot.
func (c *console) loadEvent(w http.ResponseWriter, r *http.Request) (*outbox.Event, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		c.fail(w, r, http.StatusNotFound, "No such event: an event's id is a UUID.")
		return nil, false
	}
	ev, err := c.opts.Store.Get(r.Context(), id)
	switch {
	case errors.Is(err, outbox.ErrNotFound):
		c.fail(w, r, http.StatusNotFound, "No event "+id.String()+": it was discarded, or delivered and then purged after the retention period.")
		return nil, false
	case err != nil:
		c.failErr(w, r, "read the event", err)
		return nil, false
	}
	return ev, true
}

// prettyJSON indents a payload for reading, and shows what would mislead
// as escapes. A payload that is not JSON is shown as it is.
func prettyJSON(p []byte) string {
	var b bytes.Buffer
	if err := json.Indent(&b, p, "", "  "); err != nil {
		return visible(string(p))
	}
	return visible(b.String())
}
