package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
)

// namedQuery is one query of the store's queries.sql, with its sqlc
// parameters turned into $n placeholders.
type namedQuery struct {
	Name   string
	SQL    string
	Params []string // parameter names in $n order
}

var sqlcParam = regexp.MustCompile(`sqlc\.n?arg\('([a-z_]+)'\)`)

// loadQueries reads the sqlc queries of a queries.sql file.
func loadQueries(path string) (map[string]namedQuery, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read queries: %w", err)
	}
	defer f.Close()
	out := map[string]namedQuery{}
	var name string
	var body []string
	flush := func() {
		if name == "" {
			return
		}
		q := namedQuery{Name: name}
		index := map[string]int{}
		q.SQL = sqlcParam.ReplaceAllStringFunc(strings.Join(body, "\n"), func(m string) string {
			p := sqlcParam.FindStringSubmatch(m)[1]
			if _, ok := index[p]; !ok {
				q.Params = append(q.Params, p)
				index[p] = len(q.Params)
			}
			return fmt.Sprintf("$%d", index[p])
		})
		q.SQL = strings.TrimSuffix(strings.TrimSpace(q.SQL), ";")
		out[name] = q
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "-- name: "); ok {
			flush()
			name, body = strings.Fields(rest)[0], nil
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		body = append(body, line)
	}
	flush()
	return out, sc.Err()
}

// explain runs EXPLAIN (ANALYZE, BUFFERS) of q with the named arguments in
// a transaction it rolls back, and returns the plan.
func explain(ctx context.Context, conn *pgx.Conn, q namedQuery, args map[string]any) (string, error) {
	if q.Name == "" {
		return "", errors.New("explain: no such query in runtime/pgstore/queries.sql (was it renamed?)")
	}
	vals := make([]any, len(q.Params))
	for i, p := range q.Params {
		v, ok := args[p]
		if !ok {
			return "", fmt.Errorf("%s: no value for parameter %s", q.Name, p)
		}
		vals[i] = v
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q.SQL, vals...)
	if err != nil {
		return "", fmt.Errorf("explain %s: %w", q.Name, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("explain %s: %w", q.Name, err)
	}
	for i, l := range lines {
		if len(l) > 240 {
			lines[i] = l[:240] + " …"
		}
	}
	return strings.Join(lines, "\n"), nil
}

// explainGeneric is explain for the plan PostgreSQL caches for a prepared
// statement after its fifth execution: the generic plan, made without
// looking at the parameters' values. pgx prepares every query, so this is
// the plan the store runs in a long-running processor.
func explainGeneric(ctx context.Context, conn *pgx.Conn, q namedQuery, args map[string]any, casts map[string]string) (string, error) {
	// EXECUTE inside EXPLAIN takes no bind parameters: spell the values out.
	literals := make([]string, len(q.Params))
	for i, p := range q.Params {
		v, ok := args[p]
		if !ok {
			return "", fmt.Errorf("%s: no value for parameter %s", q.Name, p)
		}
		lit, err := sqlLiteral(v)
		if err != nil {
			return "", fmt.Errorf("%s: parameter %s: %w", q.Name, p, err)
		}
		literals[i] = lit + "::" + casts[p]
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "PREPARE diag_generic AS "+q.SQL); err != nil {
		return "", fmt.Errorf("prepare %s: %w", q.Name, err)
	}
	// PREPARE is not transactional: drop the statement whatever happens.
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "DEALLOCATE diag_generic") }()
	if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
		return "", err
	}
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) EXECUTE diag_generic("+strings.Join(literals, ", ")+")")
	if err != nil {
		return "", fmt.Errorf("explain generic %s: %w", q.Name, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("explain generic %s: %w", q.Name, err)
	}
	return strings.Join(lines, "\n"), nil
}

// sqlLiteral spells out the argument types the diagnosis passes.
func sqlLiteral(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "NULL", nil
	case []uuid.UUID:
		parts := make([]string, len(v))
		for i, id := range v {
			parts[i] = id.String()
		}
		return "'{" + strings.Join(parts, ",") + "}'", nil
	}
	return "", fmt.Errorf("no literal form for %T", v)
}

// diagnose writes, into dir, the save decomposition and its what-ifs,
// the plans of the processor's queries on a full backlog, CPU profiles of
// drains and what the database sessions were doing during them, and the
// cost of the generated delivered hooks.
func (b *bench) diagnose(ctx context.Context, dir string, parts []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	want := func(part string) bool { return len(parts) == 0 || slices.Contains(parts, part) }
	for _, p := range parts {
		if !slices.Contains([]string{"save", "whatif", "plans", "drains", "hooks", "half"}, p) {
			return fmt.Errorf("-only %q: with -diagnose, use save, whatif, plans, drains, hooks or half", p)
		}
	}
	n := b.sizes.Backlog
	queries, err := loadQueries(filepath.Join(b.repo, "runtime", "pgstore", "queries.sql"))
	if err != nil {
		return err
	}
	var report strings.Builder
	if want("save") {
		if err := b.diagnoseSave(ctx, &report); err != nil {
			return err
		}
	}
	if want("whatif") {
		if err := b.diagnoseSaveWhatIfs(ctx, &report); err != nil {
			return err
		}
	}
	var tmpl map[int]string
	if want("plans") || want("drains") || want("half") {
		if tmpl, err = b.templates(ctx, oursFiller, n); err != nil {
			return err
		}
	}
	if want("plans") {
		fmt.Fprintf(&report, "\n# Plans of the outbox store's queries on a backlog of %d pending events\n\n", n)
		if err := b.explainAll(ctx, tmpl[n], queries, &report); err != nil {
			return err
		}
	}
	for _, c := range oursConfigs {
		if !want("drains") {
			break
		}
		title := fmt.Sprintf("Drain, %s", c.label)
		if err := b.diagnoseDrain(ctx, &report, dir, tmpl[n], n, c, title, "drain-"+c.key); err != nil {
			return err
		}
	}
	if want("hooks") {
		if err := b.diagnoseHooks(ctx, &report, n); err != nil {
			return err
		}
	}
	if want("half") {
		if err := b.explainHalfDrained(ctx, &report, tmpl[n], n, queries); err != nil {
			return err
		}
	}
	path := filepath.Join(dir, "diagnosis.md")
	if err := os.WriteFile(path, []byte(report.String()), 0o644); err != nil {
		return err
	}
	if want("drains") {
		fmt.Fprintln(os.Stderr, "bench: wrote", path, "and CPU profiles drain-*.pprof (read them with: go tool pprof -top FILE)")
	} else {
		fmt.Fprintln(os.Stderr, "bench: wrote", path)
	}
	return nil
}

// diagnoseDrain drains a copy of template, sampling what the database
// sessions do, and writes a CPU profile.
func (b *bench) diagnoseDrain(ctx context.Context, w *strings.Builder, dir, template string, n int, c oursConfig, title, profile string) error {
	fmt.Fprintf(w, "\n# %s: database sessions sampled every 10 ms\n\n", title)
	dbURL, done, err := b.srv.fresh(ctx, "diag_drain", template)
	if err != nil {
		return err
	}
	defer done()
	samples := &activity{counts: map[string]int{}}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan error, 1)
	go func() { sampled <- samples.sample(sampleCtx, dbURL) }()
	noop := outbox.SenderFunc(func(context.Context, *outbox.Event) (outbox.Receipt, error) { return outbox.Receipt{}, nil })
	res, err := drainOurs(ctx, dbURL, n, c.cfg, noop, b.sizes.DrainCap, filepath.Join(dir, profile+".pprof"))
	stopSampling()
	sampleErr := <-sampled
	if err != nil {
		return err
	}
	if sampleErr != nil {
		return sampleErr
	}
	self, pg := res.cpuPerEvent()
	fmt.Fprintf(w, "%s events/s (%s of %s in %s); CPU per event: Go %.0f µs, PostgreSQL %.0f µs\n\n",
		format(res.Rate(), "events/s"), thousands(int64(res.Done)), thousands(int64(res.Total)), res.Elapsed.Round(time.Millisecond), self, pg)
	samples.write(w)
	b.logf("diagnosis: %s: %s events/s", title, format(res.Rate(), "events/s"))
	return nil
}

// explainHalfDrained drains half of a copy of template with the 256/256
// configuration, then explains claiming and completing a batch, and a
// variant of Complete whose lease check cannot use the partial index on
// lease_until.
func (b *bench) explainHalfDrained(ctx context.Context, w *strings.Builder, template string, n int, queries map[string]namedQuery) error {
	dbURL, done, err := b.srv.fresh(ctx, "diag_half", template)
	if err != nil {
		return err
	}
	defer done()
	noop := outbox.SenderFunc(func(context.Context, *outbox.Event) (outbox.Receipt, error) { return outbox.Receipt{}, nil })
	if _, err := drainOurs(ctx, dbURL, n/2, oursConfigs[1].cfg, noop, b.sizes.DrainCap, ""); err != nil {
		return fmt.Errorf("half drain: %w", err)
	}
	conn, err := connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	fmt.Fprintf(w, "\n# Plans after half of the backlog was delivered (Concurrency 256)\n\n")
	plan, err := explain(ctx, conn, queries["Claim"], map[string]any{
		"now": nil, "owner": "diagnose", "token": uuid.New(), "lease_ms": int64(60000), "max_events": int32(256),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "## Claim, max_events 256 (rolled back)\n\n```\n%s\n```\n\n", plan)
	plan, err = explain(ctx, conn, queries["NextDue"], map[string]any{"now": nil})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "## NextDue\n\n```\n%s\n```\n\n", plan)

	store, err := pgstore.Open(ctx, dbURL, 2, pgstore.WithLogger(quiet))
	if err != nil {
		return err
	}
	defer store.Close()
	evs, err := store.Claim(ctx, "diagnose", 1000, time.Minute)
	if err != nil {
		return fmt.Errorf("claim: %w", err)
	}
	ids, tokens := make([]uuid.UUID, len(evs)), make([]uuid.UUID, len(evs))
	for i, ev := range evs {
		ids[i], tokens[i] = ev.ID, ev.Lease.Token
	}
	args := map[string]any{"now": nil, "ids": ids, "tokens": tokens}
	complete := queries["Complete"]
	variant := complete
	variant.Name = "Complete without the status test"
	variant.SQL = strings.Replace(complete.SQL, "AND e.status = 'processing'", "", 1)
	casts := map[string]string{"now": "timestamptz", "ids": "uuid[]", "tokens": "uuid[]"}
	for _, q := range []namedQuery{complete, variant} {
		plan, err := explain(ctx, conn, q, args)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "## %s, %d events, custom plan (rolled back)\n\n```\n%s\n```\n\n", q.Name, len(evs), plan)
		plan, err = explainGeneric(ctx, conn, q, args, casts)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "## %s, %d events, generic plan: what a prepared statement gets after five runs (rolled back)\n\n```\n%s\n```\n\n", q.Name, len(evs), plan)
	}
	var dead int64
	if err := conn.QueryRow(ctx, `SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'outbox_events'`).Scan(&dead); err == nil {
		fmt.Fprintf(w, "outbox_events: %d dead tuples made since the copy (no vacuum ran in between)\n", dead)
	}
	return nil
}

// explainAll explains Claim on a fresh copy of template, then claims a
// batch for real and explains the statements that record its outcomes.
func (b *bench) explainAll(ctx context.Context, template string, queries map[string]namedQuery, w *strings.Builder) error {
	dbURL, done, err := b.srv.fresh(ctx, "diag_explain", template)
	if err != nil {
		return err
	}
	defer done()
	conn, err := connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, limit := range []int{100, 256, 1000} {
		plan, err := explain(ctx, conn, queries["Claim"], map[string]any{
			"now": nil, "owner": "diagnose", "token": uuid.New(), "lease_ms": int64(60000), "max_events": int32(limit),
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "## Claim, max_events %d (rolled back)\n\n```\n%s\n```\n\n", limit, plan)
	}
	plan, err := explain(ctx, conn, queries["NextDue"], map[string]any{"now": nil})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "## NextDue\n\n```\n%s\n```\n\n", plan)

	// Claim a batch for real, then explain recording its completion.
	store, err := pgstore.Open(ctx, dbURL, 2, pgstore.WithLogger(quiet))
	if err != nil {
		return err
	}
	defer store.Close()
	for _, size := range []int{100, 1000} {
		evs, err := store.Claim(ctx, "diagnose", size, time.Minute)
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		ids, tokens, keys := make([]uuid.UUID, len(evs)), make([]uuid.UUID, len(evs)), make([]string, len(evs))
		for i, ev := range evs {
			ids[i], tokens[i], keys[i] = ev.ID, ev.Lease.Token, ev.OrderingKey
		}
		args := map[string]any{"now": nil, "ids": ids, "tokens": tokens, "keys": keys}
		for _, name := range []string{"Complete", "ReleaseKeys", "PromoteHeads"} {
			plan, err := explain(ctx, conn, queries[name], args)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "## %s, %d events (rolled back)\n\n```\n%s\n```\n\n", name, len(evs), plan)
		}
	}
	return nil
}

// activity counts what the sessions of one database are doing.
type activity struct {
	mu     sync.Mutex
	counts map[string]int
	total  int
}

// sample polls pg_stat_activity every 10 ms until ctx ends.
func (a *activity) sample(ctx context.Context, dbURL string) error {
	conn, err := connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var datname string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&datname); err != nil {
		return err
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		rows, err := conn.Query(ctx, `SELECT state || ' ' || coalesce(wait_event_type || ':' || wait_event, 'on CPU') || ' | ' || left(regexp_replace(query, '\s+', ' ', 'g'), 70)
			FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND state <> 'idle'`, datname)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("sample pg_stat_activity: %w", err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("sample pg_stat_activity: %w", err)
		}
		a.mu.Lock()
		a.total++
		for _, l := range lines {
			a.counts[l]++
		}
		a.mu.Unlock()
	}
}

// write prints the most frequent activities.
func (a *activity) write(w *strings.Builder) {
	a.mu.Lock()
	defer a.mu.Unlock()
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, n := range a.counts {
		all = append(all, kv{k, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	fmt.Fprintf(w, "%d samples; share of samples in which a session was …\n\n```\n", a.total)
	for i, e := range all {
		if i == 15 {
			break
		}
		fmt.Fprintf(w, "%5.1f%%  %s\n", 100*float64(e.n)/float64(max(a.total, 1)), e.k)
	}
	fmt.Fprintln(w, "```")
}
