package console

import (
	"net/http"
	"sort"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// overviewData is what the overview shows.
type overviewData struct {
	Statuses      []statusCount
	Types         []typeCounts
	Total         int64
	OldestPending time.Time
	ExpiredLeases int64
	Delivered     chart
	Failed        chart
	Processors    []processor
	Alive         int
	// Paused lists the live processors whose delivery is paused.
	Paused []processor
	// Pause is the operator's pause; nil when the store cannot pause.
	Pause *OperatorPause
}

type statusCount struct {
	Status outbox.Status
	Count  int64
}

type typeCounts struct {
	Type   string
	Counts []int64 // in the order of outbox.Statuses()
}

type processor struct {
	outbox.ProcessorInfo
}

// overview serves the whole overview page.
func (c *console) overview(w http.ResponseWriter, r *http.Request) {
	data, err := c.overviewData(r)
	if err != nil {
		c.failErr(w, r, "read the outbox's overview", err)
		return
	}
	v := c.newView(r, "Overview", data)
	v.Refresh = int(c.opts.Refresh / time.Second)
	c.render(w, r, http.StatusOK, "overview", v)
}

// overviewLive serves the part of the overview that refreshes itself.
func (c *console) overviewLive(w http.ResponseWriter, r *http.Request) {
	data, err := c.overviewData(r)
	if err != nil {
		c.log.Error("console: read the outbox's overview", "err", err)
		http.Error(w, "the outbox could not be read", http.StatusServiceUnavailable)
		return
	}
	c.renderTemplate(w, r, http.StatusOK, "overview", "live", c.newView(r, "Overview", data))
}

func (c *console) overviewData(r *http.Request) (*overviewData, error) {
	ctx := r.Context()
	st, err := c.opts.Store.Stats(ctx)
	if err != nil {
		return nil, err
	}
	now := c.opts.Now()
	activity, err := c.opts.Store.ActivityByMinute(ctx, now.Add(-chartMinutes*time.Minute).Truncate(time.Minute))
	if err != nil {
		return nil, err
	}
	procs, err := c.opts.Store.Processors(ctx)
	if err != nil {
		return nil, err
	}
	d := &overviewData{OldestPending: st.OldestPending, ExpiredLeases: st.ExpiredLeases}
	d.Delivered, d.Failed = activityCharts(activity, now)
	for _, s := range statusOrder {
		d.Statuses = append(d.Statuses, statusCount{Status: s, Count: st.Counts[s]})
		d.Total += st.Counts[s]
	}
	types := make([]string, 0, len(st.ByType))
	for t := range st.ByType {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		tc := typeCounts{Type: t}
		for _, s := range statusOrder {
			tc.Counts = append(tc.Counts, st.ByType[t][s])
		}
		d.Types = append(d.Types, tc)
	}
	for _, p := range procs {
		d.Processors = append(d.Processors, processor{p})
		if p.Alive {
			d.Alive++
			if p.Paused {
				d.Paused = append(d.Paused, processor{p})
			}
		}
	}
	if c.opts.Pauser != nil {
		op, err := c.opts.Pauser.OperatorPause(ctx)
		if err != nil {
			return nil, err
		}
		d.Pause = &op
	}
	return d, nil
}

// statusOrder is the order the console lists statuses in: those that
// need someone first.
var statusOrder = []outbox.Status{
	outbox.StatusDead, outbox.StatusFailed, outbox.StatusProcessing, outbox.StatusPending, outbox.StatusCompleted,
}
