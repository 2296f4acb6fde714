package ops

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/outboxgen/outboxgen/internal/catalog"
	"github.com/outboxgen/outboxgen/internal/cli"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

// ExitAlert is the status that "status --fail-if-dead" and
// "--fail-if-waiting" exit with when their condition holds: the outbox
// needs attention. 1 still means the outbox could not be read.
const ExitAlert = 3

// statusReport is what status shows; its JSON form is for machines.
type statusReport struct {
	Where  string                  `json:"where"`
	At     time.Time               `json:"at"`
	Counts map[outbox.Status]int64 `json:"counts"`
	// CompletedEstimated is set when the count of completed events is an
	// estimate (PostgreSQL, past 10,000 of them); they are then not
	// counted by type.
	CompletedEstimated bool                               `json:"completed_estimated,omitempty"`
	ByType             map[string]map[outbox.Status]int64 `json:"by_type"`
	ByUser             []userCounts                       `json:"by_user"`
	OldestWaiting      *time.Time                         `json:"oldest_waiting,omitempty"`
	WaitingFor         float64                            `json:"waiting_seconds"`
	NextRunAt          *time.Time                         `json:"next_run_at,omitempty"`
	Dead               int64                              `json:"dead"`
	Metrics            map[string]map[string]int64        `json:"metrics,omitempty"`
	// Problems are the most common last errors of the events still
	// waiting: what is holding delivery up right now.
	Problems []problem `json:"problems"`
	// Alerts are the --fail-if conditions that hold; status exits
	// ExitAlert when there are any.
	Alerts []string `json:"alerts,omitempty"`
	// Processors are those that sent a heartbeat in the last day.
	Processors []processorRow `json:"processors"`
	// ExpiredLeases counts events whose processor died mid-delivery and
	// that no processor has reclaimed yet.
	ExpiredLeases int64 `json:"expired_leases"`
	// OperatorPauses are the pauses of delivery that operators put in
	// force (the pause command), the pause of every type first.
	OperatorPauses []pauseJSON `json:"operator_pauses"`
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

// statusOptions are status's flags.
type statusOptions struct {
	asJSON        bool
	watch         time.Duration
	users         int
	metric        bool
	catalogPath   string
	failIfDead    bool
	failIfWaiting time.Duration
}

func statusCommand(cats Catalogs) cli.Command {
	return cli.Command{
		Name:    "status",
		Summary: "counts by status, event type and user; the backlog's age; exits 3 on --fail-if conditions",
		Usage:   "[--json] [--watch 2s] [--metric] [--fail-if-dead] [--fail-if-waiting 15m]",
		Example: "status --db app.db\nstatus --db app.db --watch 2s\nstatus --database-url postgres://ops@db/app --fail-if-dead --fail-if-waiting 15m  # exit 3 if either holds",
		Setup: func(fs *flag.FlagSet) cli.Action {
			var t target
			t.register(fs)
			var opt statusOptions
			fs.BoolVar(&opt.asJSON, "json", false, "print JSON, for machines (with --watch, one object per line)")
			fs.DurationVar(&opt.watch, "watch", 0, "print again at this interval (e.g. 2s) until interrupted; on a terminal, in place")
			fs.IntVar(&opt.users, "users", 10, "show the users with the most waiting events, at most this many (0 for none)")
			fs.BoolVar(&opt.metric, "metric", false, "also count each metric's entries by sync status (the tables named by --"+cats.Flag+")")
			fs.StringVar(&opt.catalogPath, cats.Flag, cats.Default, "with --metric: "+cats.What)
			fs.BoolVar(&opt.failIfDead, "fail-if-dead", false, fmt.Sprintf("exit %d if any event is dead", ExitAlert))
			fs.DurationVar(&opt.failIfWaiting, "fail-if-waiting", 0, fmt.Sprintf("exit %d if the oldest waiting event has waited longer than this, e.g. 15m", ExitAlert))
			return func(e *env, args []string) error {
				switch {
				case len(args) > 0:
					return cli.Usagef("takes no arguments, got %q", args[0])
				case opt.users < 0:
					return cli.Usagef("--users %d: give 0 or more", opt.users)
				case opt.watch < 0:
					return cli.Usagef("--watch %s: give a positive interval, e.g. 2s", opt.watch)
				case opt.failIfWaiting < 0:
					return cli.Usagef("--fail-if-waiting %s: give a positive duration, e.g. 15m", opt.failIfWaiting)
				case opt.watch > 0 && (opt.failIfDead || opt.failIfWaiting > 0):
					return cli.Usagef("--fail-if-… checks once and exits; drop --watch")
				}
				var cat *catalog.Catalog
				if opt.metric {
					var err error
					if cat, err = cats.Load(opt.catalogPath); err != nil {
						return err
					}
				}
				return status(e, &t, cat, opt)
			}
		},
	}
}

func status(e *env, t *target, cat *catalog.Catalog, opt statusOptions) error {
	o, err := t.open(e, false)
	if err != nil {
		return err
	}
	defer o.Close()
	inPlace := opt.watch > 0 && e.Terminal && !opt.asJSON
	for {
		r, err := gatherStatus(e, o, cat, opt)
		if err != nil {
			return fmt.Errorf("read the status of %s: %w", o.Where, err)
		}
		switch {
		case opt.asJSON && opt.watch > 0:
			err = json.NewEncoder(e.Stdout).Encode(r) // one object per line
		case opt.asJSON:
			err = printJSON(e, r)
		default:
			if inPlace {
				fmt.Fprint(e.Stdout, "\033[H\033[2J") // to the top, clear the screen
			}
			r.print(e.Stdout, e.Terminal, e.Program)
			if opt.watch > 0 && !inPlace {
				fmt.Fprintln(e.Stdout)
			}
		}
		if err != nil {
			return err
		}
		if opt.watch <= 0 {
			if len(r.Alerts) > 0 {
				return cli.Exit(ExitAlert, errors.New("alert: "+joinAlerts(r.Alerts)))
			}
			return nil
		}
		select {
		case <-e.Ctx.Done():
			return nil
		case <-time.After(opt.watch):
		}
	}
}

func joinAlerts(alerts []string) string {
	s := alerts[0]
	for _, a := range alerts[1:] {
		s += "; " + a
	}
	return s
}

func gatherStatus(e *env, o *Outbox, cat *catalog.Catalog, opt statusOptions) (*statusReport, error) {
	st, err := o.Stats(e.Ctx)
	if err != nil {
		return nil, err
	}
	now := e.Now().UTC()
	r := &statusReport{Where: o.Where, At: now, Counts: st.Counts, CompletedEstimated: st.CompletedEstimated, ByType: st.ByType,
		Dead: st.Counts[outbox.StatusDead], ByUser: []userCounts{}, ExpiredLeases: st.ExpiredLeases}
	ps, err := o.Processors(e.Ctx)
	if err != nil {
		return nil, err
	}
	r.Processors = processorRows(ps)
	pauses, err := o.Pauses(e.Ctx)
	if err != nil {
		return nil, err
	}
	r.OperatorPauses = toPausesJSON(pauses)
	for _, s := range outbox.Statuses() {
		r.Counts[s] += 0 // every status present, even at zero
	}
	if opt.users > 0 {
		byUser, err := o.CountByUser(e.Ctx, opt.users)
		if err != nil {
			return nil, err
		}
		for _, u := range byUser {
			r.ByUser = append(r.ByUser, userCounts{UserID: u.UserID, Waiting: u.Waiting(), Dead: u.Counts[outbox.StatusDead]})
		}
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
		if r.Metrics, err = syncCounts(e.Ctx, cat, o); err != nil {
			return nil, err
		}
	}
	if r.Problems, err = currentProblems(e, o); err != nil {
		return nil, err
	}
	if opt.failIfDead && r.Dead > 0 {
		r.Alerts = append(r.Alerts, fmt.Sprintf("%d dead event(s)", r.Dead))
	}
	if waited := time.Duration(r.WaitingFor * float64(time.Second)); opt.failIfWaiting > 0 && waited > opt.failIfWaiting {
		r.Alerts = append(r.Alerts, fmt.Sprintf("the oldest waiting event has waited %s, longer than %s", age(waited), opt.failIfWaiting))
	}
	return r, nil
}

// currentProblems groups the last errors of waiting events (looking at the
// oldest few thousand), most common first.
func currentProblems(e *env, o *Outbox) ([]problem, error) {
	counts := map[string]int{}
	for _, status := range []outbox.Status{outbox.StatusPending, outbox.StatusFailed} {
		evs, err := o.List(e.Ctx, outbox.Filter{Status: status, Limit: 5000})
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

// printProcessors says who delivers: the live processors and what they do,
// or that none is alive, and the events left behind by dead ones.
func (r *statusReport) printProcessors(w io.Writer, program string) {
	var alive []processorRow
	var last *processorRow
	for i, p := range r.Processors {
		if p.Alive {
			alive = append(alive, p)
		} else if last == nil || p.SeenAt.After(last.SeenAt) {
			last = &r.Processors[i]
		}
	}
	switch {
	case len(alive) == 0 && last != nil:
		fmt.Fprintf(w, "processors:           none alive; the last one (%s) was seen %s ago\n", clean(last.Owner), age(r.At.Sub(last.SeenAt)))
	case len(alive) == 0:
		fmt.Fprintln(w, "processors:           none alive; start one with \""+program+" run\"")
	default:
		fmt.Fprintf(w, "processors:           %d alive\n", len(alive))
		for _, p := range alive {
			fmt.Fprintf(w, "                      %s: %s\n", clean(p.Owner), truncate(p.state(r.At), 100))
		}
	}
	if r.ExpiredLeases > 0 {
		fmt.Fprintf(w, "expired leases:       %d event(s) held by a processor that died or stalled; a processor's poll reclaims them\n", r.ExpiredLeases)
	}
}

func (r *statusReport) print(w io.Writer, colour bool, program string) {
	fmt.Fprintf(w, "outbox: %s, at %s\n\n", r.Where, r.At.Format("2006-01-02 15:04:05 MST"))
	var t table
	t.add("status", "events")
	for _, s := range []outbox.Status{outbox.StatusPending, outbox.StatusProcessing, outbox.StatusFailed, outbox.StatusDead} {
		t.add(s, r.Counts[s])
	}
	if r.CompletedEstimated {
		t.add(outbox.StatusCompleted, fmt.Sprintf("~%d (estimate)", r.Counts[outbox.StatusCompleted]))
	} else {
		t.add(outbox.StatusCompleted, r.Counts[outbox.StatusCompleted])
	}
	t.print(w)
	if r.Dead > 0 {
		msg := fmt.Sprintf("%d dead: they need an operator. See them with \"%s list --status dead\", then retry or discard them.", r.Dead, program)
		if colour {
			msg = "\033[1;31m" + msg + "\033[0m"
		}
		fmt.Fprintln(w, msg)
	}
	printPauses(w, r.OperatorPauses, r.At, "delivery paused:      ", program)
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
	r.printProcessors(w, program)
	for _, a := range r.Alerts {
		fmt.Fprintf(w, "alert:                %s\n", a)
	}
	if len(r.ByType) > 0 {
		fmt.Fprintln(w)
		var bt table
		bt.add("event type", "pending", "processing", "failed", "dead", "completed")
		for _, typ := range slices.Sorted(maps.Keys(r.ByType)) {
			c := r.ByType[typ]
			completed := any(c[outbox.StatusCompleted])
			if r.CompletedEstimated {
				completed = "-"
			}
			bt.add(typ, c[outbox.StatusPending], c[outbox.StatusProcessing], c[outbox.StatusFailed], c[outbox.StatusDead], completed)
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
