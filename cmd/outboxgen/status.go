package main

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// statusReport is what status shows; its JSON form is for machines.
type statusReport struct {
	Where         string                             `json:"where"`
	At            time.Time                          `json:"at"`
	Counts        map[outbox.Status]int64            `json:"counts"`
	ByType        map[string]map[outbox.Status]int64 `json:"by_type"`
	ByUser        []userCounts                       `json:"by_user"`
	OldestWaiting *time.Time                         `json:"oldest_waiting,omitempty"`
	WaitingFor    float64                            `json:"waiting_seconds"`
	NextRunAt     *time.Time                         `json:"next_run_at,omitempty"`
	Dead          int64                              `json:"dead"`
	Metrics       map[string]map[string]int64        `json:"metrics,omitempty"`
	// Problems are the most common last errors of the events still
	// waiting: what is holding delivery up right now.
	Problems []problem `json:"problems"`
}

type problem struct {
	Error  string `json:"error"`
	Events int    `json:"events"`
}

type userCounts struct {
	UserID  string `json:"user_id"`
	Waiting int64  `json:"waiting"`
	Dead    int64  `json:"dead"`
}

func runStatus(e *env, args []string) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var t target
	t.register(fs)
	asJSON := fs.Bool("json", false, "print JSON, for machines")
	watch := fs.Duration("watch", 0, "refresh in place at this interval (e.g. 2s) until interrupted")
	users := fs.Int("users", 10, "show the users with the most waiting events, at most this many")
	metric := fs.Bool("metric", false, "also count each metric's entries by sync status (the tables named by --spec)")
	specPath := fs.String("spec", "metrics.yaml", "with --metric: the spec of the generated package")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	o, err := t.open(e.ctx, false)
	if err != nil {
		return e.fail(err)
	}
	defer o.Close()
	var cat *catalog
	if *metric {
		if cat, err = loadCatalog(*specPath); err != nil {
			reportError(e.stderr, err)
			return exitFail
		}
	}
	for {
		r, err := gatherStatus(e, o, cat, *users)
		if err != nil {
			return e.fail(err)
		}
		if *watch > 0 {
			fmt.Fprint(e.stdout, "\033[H\033[2J") // to the top, clear the screen
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(r); err != nil {
				return e.fail(err)
			}
		} else {
			r.print(e.stdout, e.terminal)
		}
		if *watch <= 0 {
			return exitOK
		}
		select {
		case <-e.ctx.Done():
			return exitOK
		case <-time.After(*watch):
		}
	}
}

func gatherStatus(e *env, o *outboxDB, cat *catalog, users int) (*statusReport, error) {
	st, err := o.Stats(e.ctx)
	if err != nil {
		return nil, err
	}
	byUser, err := o.CountByUser(e.ctx, users)
	if err != nil {
		return nil, err
	}
	now := e.now().UTC()
	r := &statusReport{Where: o.Where, At: now, Counts: st.Counts, ByType: st.ByType, Dead: st.Counts[outbox.StatusDead], ByUser: []userCounts{}}
	for _, s := range outbox.Statuses() {
		r.Counts[s] += 0 // every status present, even at zero
	}
	for _, u := range byUser {
		r.ByUser = append(r.ByUser, userCounts{UserID: u.UserID, Waiting: u.Waiting(), Dead: u.Counts[outbox.StatusDead]})
	}
	if !st.OldestPending.IsZero() {
		t := st.OldestPending.UTC()
		r.OldestWaiting, r.WaitingFor = &t, now.Sub(t).Seconds()
	}
	if !st.NextRunAt.IsZero() {
		t := st.NextRunAt.UTC()
		r.NextRunAt = &t
	}
	if cat != nil {
		if r.Metrics, err = cat.syncCounts(e.ctx, o); err != nil {
			return nil, err
		}
	}
	if r.Problems, err = currentProblems(e, o); err != nil {
		return nil, err
	}
	return r, nil
}

// currentProblems groups the last errors of waiting events (looking at the
// oldest few thousand), most common first.
func currentProblems(e *env, o *outboxDB) ([]problem, error) {
	counts := map[string]int{}
	for _, status := range []outbox.Status{outbox.StatusPending, outbox.StatusFailed} {
		evs, err := o.List(e.ctx, outbox.Filter{Status: status, Limit: 5000})
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			if ev.LastError != "" {
				counts[ev.LastError]++
			}
		}
	}
	problems := []problem{}
	for msg, n := range counts {
		problems = append(problems, problem{Error: msg, Events: n})
	}
	slices.SortFunc(problems, func(a, b problem) int { return cmp.Or(cmp.Compare(b.Events, a.Events), cmp.Compare(a.Error, b.Error)) })
	return problems[:min(len(problems), 3)], nil
}

func (r *statusReport) print(w io.Writer, colour bool) {
	fmt.Fprintf(w, "outbox: %s, at %s\n\n", r.Where, r.At.Format("2006-01-02 15:04:05 MST"))
	var t table
	t.add("status", "events")
	for _, s := range []outbox.Status{outbox.StatusPending, outbox.StatusProcessing, outbox.StatusFailed, outbox.StatusDead, outbox.StatusCompleted} {
		t.add(s, r.Counts[s])
	}
	t.print(w)
	if r.Dead > 0 {
		msg := fmt.Sprintf("%d dead: they need an operator. See them with \"outboxgen list --status dead\", then retry or discard them.", r.Dead)
		if colour {
			msg = "\033[1;31m" + msg + "\033[0m"
		}
		fmt.Fprintln(w, msg)
	}
	fmt.Fprintln(w)
	if r.OldestWaiting != nil {
		fmt.Fprintf(w, "oldest waiting event: %s old (enqueued %s)\n", age(time.Duration(r.WaitingFor*float64(time.Second))), r.OldestWaiting.Format("15:04:05"))
	} else {
		fmt.Fprintln(w, "oldest waiting event: none; nothing is waiting")
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "waiting on:           %d event(s): %s\n", p.Events, truncate(p.Error, 110))
	}
	if r.NextRunAt != nil {
		if d := r.NextRunAt.Sub(r.At); d > 0 {
			fmt.Fprintf(w, "next retry:           in %s (%s)\n", age(d), r.NextRunAt.Format("15:04:05"))
		} else {
			fmt.Fprintf(w, "next retry:           due now\n")
		}
	}
	if len(r.ByType) > 0 {
		fmt.Fprintln(w)
		var bt table
		bt.add("event type", "pending", "processing", "failed", "dead", "completed")
		for _, typ := range slices.Sorted(maps.Keys(r.ByType)) {
			c := r.ByType[typ]
			bt.add(typ, c[outbox.StatusPending], c[outbox.StatusProcessing], c[outbox.StatusFailed], c[outbox.StatusDead], c[outbox.StatusCompleted])
		}
		bt.print(w)
	}
	if len(r.ByUser) > 0 {
		fmt.Fprintln(w)
		var bu table
		bu.add("user", "waiting", "dead")
		for _, u := range r.ByUser {
			bu.add(u.UserID, u.Waiting, u.Dead)
		}
		bu.print(w)
	}
	if len(r.Metrics) > 0 {
		fmt.Fprintln(w)
		var bm table
		bm.add("metric", "pending", "synced")
		for _, name := range slices.Sorted(maps.Keys(r.Metrics)) {
			bm.add(name, r.Metrics[name]["pending"], r.Metrics[name]["synced"])
		}
		bm.print(w)
	}
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
