package console

import (
	"context"
	"net/http"
	"slices"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// pageSize is how many events a listing page shows.
const pageSize = 50

// eventsData is what the events page shows.
type eventsData struct {
	Query    listQuery
	Events   []*outbox.Event
	NextURL  string // the next page, "" on the last page
	BulkURL  string // the confirmation of a retry of every event of the filter
	Error    string // what is wrong with the filter, if anything
	Statuses []outbox.Status
	Now      time.Time
	// CanBulkRetry is set when the filter selects dead or failed events.
	CanBulkRetry bool
}

func (c *console) events(w http.ResponseWriter, r *http.Request) {
	q, err := parseListQuery(r.URL.Query())
	d := &eventsData{Query: q, Statuses: statusOrder, Now: c.opts.Now()}
	if err != nil {
		d.Error = err.Error()
		c.render(w, r, http.StatusBadRequest, "events", c.newView(r, "Events", d))
		return
	}
	var next string
	d.Events, next, err = c.listPage(r.Context(), q, d.Now)
	if err != nil {
		c.failErr(w, r, "list events", err)
		return
	}
	if next != "" {
		v := q.values()
		v.Set("after", next)
		d.NextURL = c.opts.Prefix + "/events?" + v.Encode()
	}
	d.CanBulkRetry = q.Status == outbox.StatusDead || q.Status == outbox.StatusFailed
	d.BulkURL = c.opts.Prefix + "/retry?" + q.Query()
	c.render(w, r, http.StatusOK, "events", c.newView(r, "Events", d))
}

// listPage returns the page of events that q selects after q.After, and
// the position of the next page ("" when there is none). Without a status
// filter it goes through the statuses in statusOrder, one keyset query
// each, until the page is full, so dead and failed events come first.
func (c *console) listPage(ctx context.Context, q listQuery, now time.Time) ([]*outbox.Event, string, error) {
	statuses := statusOrder
	if q.Status != "" {
		statuses = []outbox.Status{q.Status}
	}
	start := 0
	if q.After.Status != "" {
		start = slices.Index(statuses, q.After.Status)
	}
	var evs []*outbox.Event
	for i := start; i < len(statuses) && len(evs) <= pageSize; i++ {
		var after outbox.PageKey
		if i == start {
			after = q.After.Key
		}
		page, err := c.opts.Store.ListPage(ctx, q.filter(statuses[i], now, pageSize+1-len(evs)), after)
		if err != nil {
			return nil, "", err
		}
		evs = append(evs, page...)
	}
	if len(evs) <= pageSize {
		return evs, "", nil
	}
	last := evs[pageSize-1]
	return evs[:pageSize], cursor{Status: last.Status, Key: outbox.KeyOf(last)}.String(), nil
}
