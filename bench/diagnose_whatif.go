package main

import (
	"context"
	"fmt"
	"strings"
)

// saveWhatIf is the generated save on a schema changed by one statement
// after migrating: what the save would cost without one of its parts.
type saveWhatIf struct {
	label string
	sql   string // run on the fresh, migrated database; "" for the schema as migrated
}

// saveWhatIfs take away, one at a time, the parts of the event row's cost
// that a change of design could remove: the function's fixed search_path,
// its SECURITY DEFINER with it, and the index entries a new head adds
// beyond its primary key. Each is an ALTER or a DROP, so that no copy of
// migration 0009's function can drift from it.
var saveWhatIfs = []saveWhatIf{
	{"the schema as migrated", ""},
	{"outbox_enqueue without its SET search_path", "ALTER FUNCTION outbox_enqueue RESET search_path"},
	{"outbox_enqueue without SET search_path, SECURITY INVOKER", "ALTER FUNCTION outbox_enqueue SECURITY INVOKER RESET search_path"},
	{"without the index outbox_events_due", "DROP INDEX outbox_events_due"},
	{"without the index outbox_events_unfinished_key", "DROP INDEX outbox_events_unfinished_key"},
	{"without the index outbox_events_claimable", "DROP INDEX outbox_events_claimable"},
	{"without those three indexes", "DROP INDEX outbox_events_due, outbox_events_unfinished_key, outbox_events_claimable"},
}

// whatIfRounds is how many interleaved rounds the what-ifs run: one
// variant's figures vary by a few percent from round to round, about the
// size of the effects measured.
const whatIfRounds = 3

// diagnoseSaveWhatIfs runs the generated SaveWeight with 8 writers on each
// what-if schema, round after round, and writes the medians.
func (b *bench) diagnoseSaveWhatIfs(ctx context.Context, w *strings.Builder) error {
	rates := make([][]float64, len(saveWhatIfs))
	pgCPU := make([][]float64, len(saveWhatIfs))
	goCPU := make([][]float64, len(saveWhatIfs))
	for range whatIfRounds {
		for k, v := range saveWhatIfs {
			res, err := b.saveGenerated(ctx, "diag_whatif", v.sql)
			if err != nil {
				return fmt.Errorf("what-if %q: %w", v.label, err)
			}
			self, pg := res.cpuPerSave()
			rates[k] = append(rates[k], res.Rate)
			pgCPU[k] = append(pgCPU[k], pg)
			goCPU[k] = append(goCPU[k], self)
			b.logf("what-if: %s: %s tx/s", v.label, format(res.Rate, "tx/s"))
		}
	}
	fmt.Fprintf(w, "\n# The generated SaveWeight without one of its parts: 8 writers, %s each, medians of %d interleaved rounds\n\n", b.sizes.SaveDur, whatIfRounds)
	fmt.Fprintln(w, "| schema | tx/s | PostgreSQL CPU µs/tx | Go CPU µs/tx | PostgreSQL CPU, lowest-highest |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: |")
	for k, v := range saveWhatIfs {
		_, rate, _ := spread(rates[k])
		lo, pg, hi := spread(pgCPU[k])
		_, gc, _ := spread(goCPU[k])
		fmt.Fprintf(w, "| %s | %s | %.1f | %.1f | %.1f-%.1f |\n", v.label, format(rate, "tx/s"), pg, gc, lo, hi)
	}
	return nil
}
