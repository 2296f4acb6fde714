package demo

import (
	"context"
	"fmt"
	"io"

	"github.com/outboxgen/outboxgen/examples/fitness/backend"
	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Report is the outcome of a run.
type Report struct {
	Rows []Row
	// Dead counts events that went dead.
	Dead int64
	// Problems lists every broken promise; empty means all kept.
	Problems []string
}

// Row is one metric's line of the final table.
type Row struct {
	Metric     string
	Local      int // entries in the app's database
	Synced     int // of which the backend has the latest change
	Backend    int // records the backend holds
	Duplicates int // deliveries the backend recognised as repeats and absorbed
}

// OK reports whether every entry is synced, the backend holds exactly one
// record per entry, and no event went dead.
func (r Report) OK() bool { return len(r.Problems) == 0 }

func buildReport(ctx context.Context, s *Store, be *backend.Server, users []string) (Report, error) {
	held, err := be.Counts(users...)
	if err != nil {
		return Report{}, fmt.Errorf("backend counts: %w", err)
	}
	st, err := s.Outbox.Stats(ctx)
	if err != nil {
		return Report{}, err
	}
	r := Report{Dead: st.Counts[outbox.StatusDead]}
	lists := []struct {
		metric string
		list   func(metrics.ListFilter) (int, int, error)
	}{
		{"weight", counter(ctx, s.Metrics.Weight.List)},
		{"steps", counter(ctx, s.Metrics.Steps.List)},
		{"mood", counter(ctx, s.Metrics.Mood.List)},
		{"sleep", counter(ctx, s.Metrics.Sleep.List)},
	}
	for _, l := range lists {
		row := Row{Metric: l.metric, Backend: held[l.metric].Records, Duplicates: held[l.metric].Duplicates}
		for _, u := range users {
			local, synced, err := l.list(metrics.ListFilter{UserID: u, Limit: 10_000})
			if err != nil {
				return Report{}, err
			}
			row.Local += local
			row.Synced += synced
		}
		if row.Synced != row.Local {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %d of %d entries synced", row.Metric, row.Synced, row.Local))
		}
		if row.Backend != row.Local {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: the backend holds %d records for %d entries", row.Metric, row.Backend, row.Local))
		}
		r.Rows = append(r.Rows, row)
	}
	if r.Dead > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d events went dead", r.Dead))
	}
	return r, nil
}

// counter counts the entries a List returns, and those synced.
func counter[E any](ctx context.Context, list func(context.Context, metrics.ListFilter) ([]E, error)) func(metrics.ListFilter) (int, int, error) {
	return func(f metrics.ListFilter) (int, int, error) {
		all, err := list(ctx, f)
		if err != nil {
			return 0, 0, err
		}
		f.SyncStatus = metrics.SyncSynced
		synced, err := list(ctx, f)
		return len(all), len(synced), err
	}
}

// Print writes the final table and the verdict.
func (r Report) Print(w io.Writer) {
	const format = "%-8s %13v %8v %18v %23v\n"
	fmt.Fprintf(w, format, "metric", "local entries", "synced", "backend received", "duplicates suppressed")
	total := Row{Metric: "total"}
	for _, row := range append(r.Rows, total) {
		if row.Metric == "total" {
			row = total
		}
		fmt.Fprintf(w, format, row.Metric, row.Local, row.Synced, row.Backend, row.Duplicates)
		total.Local += row.Local
		total.Synced += row.Synced
		total.Backend += row.Backend
		total.Duplicates += row.Duplicates
	}
	fmt.Fprintln(w)
	if r.OK() {
		fmt.Fprintln(w, "every entry is synced, the backend holds exactly one record per entry, and no event went dead.")
		return
	}
	fmt.Fprintln(w, "PROMISE BROKEN:")
	for _, p := range r.Problems {
		fmt.Fprintln(w, "  - "+p)
	}
}
