package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// confirmData is what a confirmation page shows: what will be done, to
// how many events, and the form that does it.
type confirmData struct {
	Question string // "Retry 1 event?"
	Detail   string // what it does
	Button   string // the submit button's label, naming the count
	Action   string // the form's target
	Fields   [][2]string
	Danger   bool
	Cancel   string // where "Cancel" leads
	// Reason asks for a reason (pausing).
	Reason bool
}

// readOnly answers a request for an action that this console does not
// allow, and reports whether it did.
func (c *console) readOnly(w http.ResponseWriter, r *http.Request) bool {
	if c.opts.AllowActions {
		return false
	}
	c.log.Warn("console: action refused: the console is read-only", "path", r.URL.Path, "user", user(r))
	c.fail(w, r, http.StatusForbidden, "This console is read-only: it shows the outbox and changes nothing. Start it with --allow-actions (Options.AllowActions in code) to retry, discard or pause.")
	return true
}

// eventActions are the actions on one event.
var eventActions = map[string]struct {
	verb, detail, done string
	danger             bool
}{
	"retry":   {"Retry", "It will be due now, with a fresh set of attempts; nothing of its past failures is held against it.", "retried", false},
	"discard": {"Discard", "It is deleted for good and will never be delivered; the entity's next event moves up.", "discarded", true},
}

func (c *console) confirmEventAction(w http.ResponseWriter, r *http.Request) {
	a, ok := eventActions[r.PathValue("action")]
	if !ok {
		c.fail(w, r, http.StatusNotFound, "No such page.")
		return
	}
	if c.readOnly(w, r) {
		return
	}
	ev, ok := c.loadEvent(w, r)
	if !ok {
		return
	}
	eventURL := c.opts.Prefix + "/events/" + ev.ID.String()
	d := &confirmData{
		Question: fmt.Sprintf("%s 1 event: %s, %s, of user %s?", a.verb, ev.Status, visible(ev.Type), visible(ev.UserID)),
		Detail:   a.detail,
		Button:   a.verb + " 1 event",
		Action:   eventURL + "/" + r.PathValue("action"),
		Danger:   a.danger,
		Cancel:   eventURL,
	}
	c.render(w, r, http.StatusOK, "confirm", c.newView(r, a.verb+" event", d))
}

func (c *console) eventAction(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("action")
	a, ok := eventActions[name]
	if !ok {
		c.fail(w, r, http.StatusNotFound, "No such page.")
		return
	}
	if c.readOnly(w, r) || !c.checkCSRF(w, r) {
		return
	}
	ev, ok := c.loadEvent(w, r)
	if !ok {
		return
	}
	var err error
	if name == "retry" {
		err = c.opts.Store.Retry(r.Context(), ev.ID)
	} else {
		err = c.opts.Store.Discard(r.Context(), ev.ID)
	}
	switch {
	case errors.Is(err, outbox.ErrNotRetryable):
		c.fail(w, r, http.StatusConflict, fmt.Sprintf("Event %s is %s now: only dead and failed events can be retried.", ev.ID, ev.Status))
		return
	case errors.Is(err, outbox.ErrInFlight):
		c.fail(w, r, http.StatusConflict, fmt.Sprintf("Event %s is being delivered right now; wait until its lease ends (%s).", ev.ID, ev.Lease.Until.UTC().Format(time.RFC3339)))
		return
	case errors.Is(err, outbox.ErrNotFound):
		c.fail(w, r, http.StatusNotFound, "Event "+ev.ID.String()+" is gone: someone discarded it, or it was delivered and purged.")
		return
	case err != nil:
		c.failErr(w, r, name+" the event", err)
		return
	}
	c.log.Info("console: event "+a.done, "event", ev.ID, "event_type", ev.Type, "was", ev.Status, "user", user(r))
	to := c.opts.Prefix + "/events/" + ev.ID.String()
	if name == "discard" {
		to = c.opts.Prefix + "/events"
	}
	http.Redirect(w, r, to+"?done="+a.done, http.StatusSeeOther)
}

// confirmBulkRetry asks to retry the dead or failed events of a filter,
// naming how many there are now. The form carries the time of the count,
// and the count: the retry takes no event enqueued after that time, and
// no more events than the count.
func (c *console) confirmBulkRetry(w http.ResponseWriter, r *http.Request) {
	if c.readOnly(w, r) {
		return
	}
	q, ok := c.bulkQuery(w, r, r.URL.Query())
	if !ok {
		return
	}
	now := c.opts.Now()
	n, err := c.opts.Store.CountMatching(r.Context(), q.filter(q.Status, now, 0))
	if err != nil {
		c.failErr(w, r, "count the events to retry", err)
		return
	}
	list := c.opts.Prefix + "/events?" + q.Query()
	if n == 0 {
		c.fail(w, r, http.StatusOK, "No "+q.Describe()+" now: nothing to retry.")
		return
	}
	d := &confirmData{
		Question: fmt.Sprintf("Retry %s %s?", count(n), q.Describe()),
		Detail:   "Each will be due now, with a fresh set of attempts. Events that fail again come back here.",
		Button:   fmt.Sprintf("Retry %s events", count(n)),
		Action:   c.opts.Prefix + "/retry",
		Cancel:   list,
	}
	for k, vs := range q.values() {
		d.Fields = append(d.Fields, [2]string{k, vs[0]})
	}
	d.Fields = append(d.Fields, [2]string{"asof", strconv.FormatInt(now.UnixMicro(), 10)}, [2]string{"n", strconv.FormatInt(n, 10)})
	c.render(w, r, http.StatusOK, "confirm", c.newView(r, "Retry events", d))
}

func (c *console) bulkRetry(w http.ResponseWriter, r *http.Request) {
	if c.readOnly(w, r) || !c.checkCSRF(w, r) {
		return
	}
	q, ok := c.bulkQuery(w, r, r.PostForm)
	if !ok {
		return
	}
	asOf, err1 := strconv.ParseInt(r.PostFormValue("asof"), 10, 64)
	n, err2 := strconv.ParseInt(r.PostFormValue("n"), 10, 64)
	if err1 != nil || err2 != nil || n < 1 {
		c.fail(w, r, http.StatusBadRequest, "This form is not one the console made: it lacks the count you confirmed.")
		return
	}
	f := q.filter(q.Status, time.UnixMicro(asOf), int(n))
	// The retry takes nothing enqueued after the count was shown.
	if f.CreatedBefore.IsZero() || f.CreatedBefore.After(time.UnixMicro(asOf)) {
		f.CreatedBefore = time.UnixMicro(asOf + 1)
	}
	retried, skipped, err := c.retryMatching(r, f)
	c.log.Info("console: events retried", "filter", q.Describe(), "confirmed", n, "retried", retried, "skipped", skipped, "user", user(r))
	if err != nil {
		c.failErr(w, r, fmt.Sprintf("retry every event (%d were retried before the error)", retried), err)
		return
	}
	v := q.values()
	v.Set("done", "bulk")
	v.Set("n", strconv.FormatInt(retried, 10))
	http.Redirect(w, r, c.opts.Prefix+"/events?"+v.Encode(), http.StatusSeeOther)
}

// retryMatching retries the events of f through the BulkRetrier. Events
// that changed since the count (retried by someone else, being delivered)
// are left alone.
func (c *console) retryMatching(r *http.Request, f outbox.Filter) (retried, skipped int64, err error) {
	retried, err = c.opts.Bulk.RetryFiltered(r.Context(), f)
	return retried, 0, err
}

// bulkQuery reads a bulk retry's filter, which must select dead or failed
// events.
func (c *console) bulkQuery(w http.ResponseWriter, r *http.Request, v url.Values) (listQuery, bool) {
	q, err := parseListQuery(v)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return q, false
	}
	if q.Status != outbox.StatusDead && q.Status != outbox.StatusFailed {
		c.fail(w, r, http.StatusBadRequest, "Only dead and failed events can be retried: filter the events by one of those statuses first.")
		return q, false
	}
	return q, true
}
