package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// def names one measured quantity.
type def struct {
	Key    string // stable identifier, e.g. "save.plain"
	Group  string // the table section it belongs to
	Name   string // what was measured, e.g. "plain INSERT transaction"
	Unit   string // "tx/s", "events/s", "ms", "s", "µs/event"
	Higher bool   // whether a higher value is better
}

// metric is one quantity and its value in each run.
type metric struct {
	def
	Values []float64
	Capped []string // one entry per run a time cap cut short: how far it got
}

// results collects the measurements of a whole benchmark run.
type results struct {
	order    []*metric
	byKey    map[string]*metric
	failures []string
}

func newResults() *results { return &results{byKey: map[string]*metric{}} }

// add records one run's value of d.
func (r *results) add(d def, v float64) {
	m := r.byKey[d.Key]
	if m == nil {
		m = &metric{def: d}
		r.byKey[d.Key] = m
		r.order = append(r.order, m)
	}
	m.Values = append(m.Values, v)
}

// capped records that a time cap ended one run of d early, after done of
// total events.
func (r *results) capped(d def, done, total int) {
	if m := r.byKey[d.Key]; m != nil {
		m.Capped = append(m.Capped, fmt.Sprintf("%s of %s", thousands(int64(done)), thousands(int64(total))))
	}
}

// notes returns m's remarks as one line.
func (m *metric) notes() string {
	if len(m.Capped) == 0 {
		return ""
	}
	return fmt.Sprintf("time cap reached in %d of %d runs (after %s events); rated on the events done", len(m.Capped), len(m.Values), strings.Join(m.Capped, ", "))
}

// fail records a measurement that could not be made.
func (r *results) fail(what string, err error) {
	msg := fmt.Sprintf("%s: %v", what, err)
	fmt.Fprintln(os.Stderr, "bench: FAILED "+msg)
	r.failures = append(r.failures, msg)
}

// grouped returns the metrics with each group's together, groups in the
// order they first appeared.
func (r *results) grouped() []*metric {
	rank := map[string]int{}
	for _, m := range r.order {
		if _, ok := rank[m.Group]; !ok {
			rank[m.Group] = len(rank)
		}
	}
	out := slices.Clone(r.order)
	slices.SortStableFunc(out, func(a, b *metric) int { return rank[a.Group] - rank[b.Group] })
	return out
}

// median returns the median of d's values; ok is false without any.
func (r *results) median(key string) (float64, bool) {
	m := r.byKey[key]
	if m == nil || len(m.Values) == 0 {
		return 0, false
	}
	_, med, _ := spread(m.Values)
	return med, true
}

// best returns, among keys, the one with the highest median.
func (r *results) best(keys ...string) (key string, v float64, ok bool) {
	for _, k := range keys {
		if m, found := r.median(k); found && (!ok || m > v) {
			key, v, ok = k, m, true
		}
	}
	return key, v, ok
}

// name returns the display name of key.
func (r *results) name(key string) string {
	if m := r.byKey[key]; m != nil {
		return m.Name
	}
	return key
}

// spread returns the minimum, median and maximum of vs.
func spread(vs []float64) (lo, med, hi float64) {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return s[0], med, s[n-1]
}

// format prints v in a way that suits its unit.
func format(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case unit == "ms" || unit == "s":
		if v < 10 {
			return fmt.Sprintf("%.2f", v)
		}
		return fmt.Sprintf("%.1f", v)
	case v >= 100:
		return thousands(int64(math.Round(v)))
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

// thousands writes n with thin separators: 12,345.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// target is one goal of the brief, checked on the medians of the runs.
type target struct {
	Goal     string // e.g. "Save ≤ 1.3× the cost of a plain INSERT"
	Measured string // e.g. "1.42× (plain 4,210 tx/s ÷ ours 2,960 tx/s)"
	Met      bool
}

// targets checks every goal whose inputs were measured.
func (r *results) targets() []target {
	var ts []target
	ratio := func(goal, aKey, bKey string, check func(float64) bool) {
		a, okA := r.median(aKey)
		b, okB := r.median(bKey)
		if !okA || !okB || b == 0 {
			return
		}
		v := a / b
		ts = append(ts, target{
			Goal:     goal,
			Measured: fmt.Sprintf("%.2f× (%s %s ÷ %s %s)", v, r.name(aKey), format(a, unitOf(r, aKey)), r.name(bKey), format(b, unitOf(r, bKey))),
			Met:      check(v),
		})
	}
	ratio("Save costs ≤ 1.3× a plain INSERT transaction (plain tx/s ÷ ours ≤ 1.3)", mSavePlain.Key, mSaveOurs.Key, func(v float64) bool { return v <= 1.3 })
	ratio("Save ≥ 1.5× River's entity INSERT + InsertTx", mSaveOurs.Key, mSaveRiver.Key, func(v float64) bool { return v >= 1.5 })
	ratio("Save as the least-privilege app role costs ≤ 1.1× the owner's (owner tx/s ÷ role tx/s)", mSaveOurs.Key, mSaveRole.Key, func(v float64) bool { return v <= 1.1 })

	oursBest, _, okO := r.best(backlogOursKeys()...)
	riverBest, _, okR := r.best(riverKeys(riverBacklogDef)...)
	if okO && okR {
		ratio("No-op delivery ≥ 1.5× River's best", oursBest, riverBest, func(v float64) bool { return v >= 1.5 })
	}
	if okO {
		defaults := backlogDef(oursConfigs[0]).Key
		ratio("No-op delivery with the default Config ≥ 60 % of the best configuration's", defaults, oursBest, func(v float64) bool { return v >= 0.6 })
		if okR {
			ratio("No-op delivery with the default Config ≥ 2× River's best", defaults, riverBest, func(v float64) bool { return v >= 2 })
		}
	}
	// The raw loop's target replaces "≥ 2× watermill-sql", which the
	// raw limit on a 2-core machine makes unreachable; watermill stays in
	// the table.
	if rawBest, _, okRaw := r.best(rawPGKeys()...); okO && okRaw {
		ratio("No-op delivery: our best configuration ≥ 75 % of the raw SQL claim-and-complete loop's best", oursBest, rawBest, func(v float64) bool { return v >= 0.75 })
	}
	httpOurs, _, okHO := r.best(mHTTPOursDef.Key, mHTTPOurs64.Key, mHTTPOurs256.Key, mHTTPOurs1024.Key)
	httpRiver, _, okHR := r.best(riverKeys(riverHTTPDef)...)
	if okHO && okHR {
		ratio("HTTP delivery ≥ 1.5× River's best", httpOurs, httpRiver, func(v float64) bool { return v >= 1.5 })
	}
	if batchOurs, _, okB := r.best(mHTTPOursBatch.Key, mHTTPOursB250.Key); okB {
		// The no-op drain of the same Concurrency and BatchSize: what the
		// store allows that configuration, HTTP or not.
		noop := map[string]string{mHTTPOursBatch.Key: "backlog.ours.1000", mHTTPOursB250.Key: "backlog.ours.1000x250"}[batchOurs]
		ratio("HTTP delivery through the batch endpoint ≥ 90 % of the no-op drain at the same configuration", batchOurs, noop, func(v float64) bool { return v >= 0.9 })
	}
	ts = append(ts, r.capacityTargets()...)
	if k, ok := r.sqliteKeys(); ok {
		ratio("SQLite: the default drain ≥ 25 % of the raw loop at batch 100", k.defaultMid, k.raw100, func(v float64) bool { return v >= 0.25 })
		ratio("SQLite: the default drain of the largest backlog within 20 % of the smallest's", k.defaultLargest, k.defaultSmallest, func(v float64) bool { return v >= 0.8 })
		ratio("SQLite: the best configuration ≥ 50 % of the raw loop at batch 1000", k.best, k.raw1000, func(v float64) bool { return v >= 0.5 })
	}
	below := func(goal, key string, limit float64) {
		v, ok := r.median(key)
		if !ok {
			return
		}
		u := unitOf(r, key)
		ts = append(ts, target{Goal: goal, Measured: fmt.Sprintf("%s %s", format(v, u), u), Met: v < limit})
	}
	below("Save → delivered at 500/s, p50 < 5 ms", mLatencyOursP50.Key, 5)
	below("Save → delivered at 500/s, p99 < 25 ms", mLatencyOursP99.Key, 25)
	below("Save → delivered at 500/s with the default Config, p99 < 5 ms", mLatencyOursP99.Key, 5)
	below("Root spec generates < 2 s (warm cache)", mGenRootWarm.Key, 2)
	below("200-metric spec generates < 10 s (warm cache)", mGenBigWarm.Key, 10)
	below("200-metric spec generates < 10 s (cold: OUTBOXGEN_NO_CACHE=1)", mGenBigCold.Key, 10)
	below(`SQLite: no save fails with "database is locked" while the processor drains`, mSQLiteBusyLocked.Key, 0.5)
	for _, m := range r.order {
		if m.Group == groupMemory {
			below(fmt.Sprintf("Memory: %s < %d MB", m.Name, memoryLimitMB), m.Key, memoryLimitMB)
		}
	}
	return ts
}

func unitOf(r *results, key string) string {
	if m := r.byKey[key]; m != nil {
		return m.Unit
	}
	return ""
}

// header is the context of a run, printed above its results.
type header struct {
	Command  string
	Started  time.Time
	Took     time.Duration
	Runs     int
	Quick    bool
	Machine  machine
	Server   serverInfo
	Sizes    sizes
	Warnings []string
}

// writeText prints the results for a terminal.
func (r *results) writeText(w io.Writer, h header) {
	fmt.Fprintf(w, "\n%s\n", h.Machine)
	fmt.Fprintf(w, "%s\n", h.Server.Version)
	fmt.Fprintf(w, "%s\n\n", settingsLine(h.Server))
	width := 0
	for _, m := range r.order {
		width = max(width, utf8.RuneCountInString(m.Name))
	}
	group := ""
	for _, m := range r.grouped() {
		if m.Group != group {
			group = m.Group
			fmt.Fprintf(w, "\n%s\n  %-*s %10s %10s %10s\n", group, width, "", "min", "median", "max")
		}
		pad := width - utf8.RuneCountInString(m.Name)
		if len(m.Values) == 0 {
			fmt.Fprintf(w, "  %s%*s %10s %10s %10s  %s  %s\n", m.Name, pad, "", "—", "—", "—", m.Unit, m.notes())
			continue
		}
		lo, med, hi := spread(m.Values)
		fmt.Fprintf(w, "  %s%*s %10s %10s %10s  %s  %s\n", m.Name, pad, "", format(lo, m.Unit), format(med, m.Unit), format(hi, m.Unit), m.Unit, m.notes())
	}
	fmt.Fprintln(w, "\nTargets (medians):")
	for _, t := range r.targets() {
		fmt.Fprintf(w, "  [%s] %s: %s\n", metText(t.Met), t.Goal, t.Measured)
	}
	for _, f := range r.failures {
		fmt.Fprintf(w, "FAILED: %s\n", f)
	}
}

func metText(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}

func settingsLine(s serverInfo) string {
	parts := make([]string, len(s.Settings))
	for i, kv := range s.Settings {
		parts[i] = kv[0] + "=" + kv[1]
	}
	return strings.Join(parts, ", ")
}

// Markers delimit the generated part of docs/BENCHMARKS.md.
const (
	beginMarker = "<!-- BEGIN GENERATED RESULTS: written by `cd bench && go run . -write`; edits between the markers are lost -->"
	endMarker   = "<!-- END GENERATED RESULTS -->"
)

// markdown renders the generated results section, markers included.
func (r *results) markdown(h header) string {
	var b bytes.Buffer
	fmt.Fprintln(&b, beginMarker)
	fmt.Fprintln(&b, "## Results")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "- Command: `%s`\n", h.Command)
	fmt.Fprintf(&b, "- Date: %s (took %s, %d run(s) of each measurement%s)\n", h.Started.UTC().Format("2006-01-02 15:04 UTC"), h.Took.Round(time.Second), h.Runs, quickNote(h.Quick))
	fmt.Fprintf(&b, "- Machine: %s\n", h.Machine)
	fmt.Fprintf(&b, "- PostgreSQL: %s\n", h.Server.Version)
	fmt.Fprintf(&b, "- PostgreSQL settings: %s\n", settingsLine(h.Server))
	fmt.Fprintf(&b, "- Sizes: %s\n", h.Sizes)
	for _, w := range h.Warnings {
		fmt.Fprintf(&b, "- Warning: %s\n", w)
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| Measurement | min | median | max | unit | notes |")
	fmt.Fprintln(&b, "| --- | ---: | ---: | ---: | --- | --- |")
	group := ""
	for _, m := range r.grouped() {
		if m.Group != group {
			group = m.Group
			fmt.Fprintf(&b, "| **%s** | | | | | |\n", group)
		}
		notes := m.notes()
		if len(m.Values) == 0 {
			fmt.Fprintf(&b, "| %s | — | — | — | %s | %s |\n", m.Name, m.Unit, notes)
			continue
		}
		lo, med, hi := spread(m.Values)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", m.Name, format(lo, m.Unit), format(med, m.Unit), format(hi, m.Unit), m.Unit, notes)
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "### Targets (on the medians)")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| Target | Measured | Result |")
	fmt.Fprintln(&b, "| --- | --- | --- |")
	for _, t := range r.targets() {
		res := "met"
		if !t.Met {
			res = "**missed**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", t.Goal, t.Measured, res)
	}
	if len(r.failures) > 0 {
		fmt.Fprintln(&b)
		fmt.Fprintln(&b, "### Measurements that failed")
		fmt.Fprintln(&b)
		for _, f := range r.failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	fmt.Fprintln(&b, endMarker)
	return b.String()
}

func quickNote(quick bool) string {
	if quick {
		return ", -quick sizes: a smoke run, not a measurement"
	}
	return ""
}

// docIntro is written when docs/BENCHMARKS.md does not exist yet; after
// that, everything outside the markers is left as it is.
const docIntro = `# Benchmarks

How outboxgen compares with River and watermill-sql on the same machine, the
same PostgreSQL server and in the same run. The program is ` + "`bench/`" + `, a module
of its own so that the main module never depends on River or watermill.

`

// writeDoc replaces the generated section of the document at path (or
// creates the document), leaving the hand-written text around it alone.
func writeDoc(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var out string
	doc := string(old)
	begin, end := strings.Index(doc, beginMarker), strings.Index(doc, endMarker)
	switch {
	case len(old) == 0:
		out = docIntro + section
	case begin >= 0 && end > begin:
		rest := strings.TrimPrefix(doc[end+len(endMarker):], "\n")
		out = doc[:begin] + section + rest
	default:
		out = strings.TrimRight(doc, "\n") + "\n\n" + section
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
