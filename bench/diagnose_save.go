package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
)

// saveStep is one variant of the save decomposition: the statements one
// transaction runs for writer w's i-th save.
type saveStep struct {
	label string
	run   func(ctx context.Context, tx pgx.Tx, w, i int) error
}

// enqueueParams are the parameters of the store's Enqueue query, the
// arguments of outbox_enqueue (migration 0009) in order.
var enqueueParams = []string{"id", "event_type", "aggregate", "aggregate_id", "user_id", "ordering_key",
	"is_new_record", "entity_version", "payload", "metadata", "priority", "max_attempts", "run_at", "now"}

// diagnoseSave splits the cost of the generated Save into its statements:
// each variant adds one part, run by 8 writers on a fresh database with
// the generated schema, and the NOTIFY transactions the store sends after
// commits are counted.
func (b *bench) diagnoseSave(ctx context.Context, w *strings.Builder) error {
	entityQs, err := loadQueries(filepath.Join(b.repo, "examples", "fitness", "metrics", "internal", "pgdb", "queries.sql"))
	if err != nil {
		return err
	}
	storeQs, err := loadQueries(filepath.Join(b.repo, "runtime", "pgstore", "queries.sql"))
	if err != nil {
		return err
	}
	upsert, enqueue := entityQs["SaveWeight"], storeQs["Enqueue"]
	if len(enqueue.Params) != len(enqueueParams) {
		return fmt.Errorf("the Enqueue query takes %v, not %v: update diagnose_save.go", enqueue.Params, enqueueParams)
	}
	for k, p := range enqueueParams {
		if enqueue.Params[k] != p {
			return fmt.Errorf("the Enqueue query takes %v, not %v: update diagnose_save.go", enqueue.Params, enqueueParams)
		}
	}
	upsertArgs := func(w, i int) ([]any, uuid.UUID, error) {
		user, day := entryKey(w, i)
		id, err := uuid.NewV7()
		if err != nil {
			return nil, id, err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		kg := 70.5
		vals := map[string]any{"id": id, "user_id": user, "recorded_at": day, "bucket": day.Format("2006-01-02"), "kg": &kg, "now": now, "created_at": now, "updated_at": now}
		args := make([]any, len(upsert.Params))
		for k, p := range upsert.Params {
			args[k] = vals[p]
		}
		return args, id, nil
	}
	eventArgs := func(q namedQuery, id uuid.UUID, w, i int) ([]any, error) {
		user, day := entryKey(w, i)
		payload, err := json.Marshal(weightArgs{PayloadVersion: 1, ID: id, UserID: user, RecordedAt: day, Kg: 70.5, Version: 1})
		if err != nil {
			return nil, err
		}
		eventID, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		vals := map[string]any{
			"id": eventID, "event_type": metrics.EventWeightCreated, "aggregate": "weight", "aggregate_id": id.String(),
			"user_id": user, "ordering_key": "weight/" + id.String(), "is_new_record": true, "entity_version": int64(1),
			"payload": payload, "metadata": []byte(nil), "priority": int32(5), "max_attempts": int32(5), "run_at": nil, "now": nil,
		}
		args := make([]any, len(q.Params))
		for k, p := range q.Params {
			args[k] = vals[p]
		}
		return args, nil
	}
	// The event insert of outbox_enqueue without its outbox_keys upsert or
	// its checks: every event a head.
	direct := namedQuery{Name: "insert event only", Params: enqueueParams, SQL: `INSERT INTO outbox_events (
		id, event_type, aggregate, aggregate_id, user_id, ordering_key, is_new_record,
		entity_version, payload, metadata, priority, status, is_head, attempts,
		max_attempts, run_at, created_at, updated_at)
	VALUES ($1::uuid, $2::text, $3::text, $4::text, $5::text, $6::text, $7::boolean,
		$8::bigint, $9::json, $10::json, $11::integer, 'pending', true, 0,
		$12::integer, coalesce($13::timestamptz, now()), coalesce($14::timestamptz, now()), coalesce($14::timestamptz, now()))`}
	steps := []saveStep{
		{"plain INSERT of the entity", func(ctx context.Context, tx pgx.Tx, w, i int) error {
			return insertWeight(ctx, tx, w, i)
		}},
		{"entity upsert … RETURNING * (the generated SaveWeight statement)", func(ctx context.Context, tx pgx.Tx, w, i int) error {
			args, _, err := upsertArgs(w, i)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, upsert.SQL, args...)
			return err
		}},
		{"entity upsert + event INSERT (no outbox_keys upsert)", func(ctx context.Context, tx pgx.Tx, w, i int) error {
			args, id, err := upsertArgs(w, i)
			if err != nil {
				return err
			}
			if _, err = tx.Exec(ctx, upsert.SQL, args...); err != nil {
				return err
			}
			ev, err := eventArgs(direct, id, w, i)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, direct.SQL, ev...)
			return err
		}},
		{"entity upsert + the store's Enqueue statement (outbox_enqueue: checks, outbox_keys upsert, event INSERT)", func(ctx context.Context, tx pgx.Tx, w, i int) error {
			args, id, err := upsertArgs(w, i)
			if err != nil {
				return err
			}
			if _, err = tx.Exec(ctx, upsert.SQL, args...); err != nil {
				return err
			}
			ev, err := eventArgs(enqueue, id, w, i)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, enqueue.SQL, ev...)
			return err
		}},
	}
	fmt.Fprintf(w, "\n# Save decomposition: 8 writers, %s each, fresh database with the generated schema\n\n", b.sizes.SaveDur)
	fmt.Fprintln(w, "| transaction | tx/s | PostgreSQL CPU µs/tx | Go CPU µs/tx | commits per save |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: |")
	for _, st := range steps {
		if err := b.decomposeOne(ctx, w, st.label, func(ctx context.Context, m *metrics.Metrics, pool pgxPool) saveOp {
			return func(ctx context.Context, wr, i int) error {
				return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return st.run(ctx, tx, wr, i) })
			}
		}); err != nil {
			return err
		}
	}
	return b.decomposeOne(ctx, w, "generated SaveWeight (all of the above, the Go side, and the store's NOTIFY after commit)", func(ctx context.Context, m *metrics.Metrics, _ pgxPool) saveOp {
		return saveWeights(m)
	})
}

// pgxPool is what a decomposition step needs of a pool.
type pgxPool interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// decomposeOne measures one variant and writes its row.
func (b *bench) decomposeOne(ctx context.Context, w *strings.Builder, label string, op func(context.Context, *metrics.Metrics, pgxPool) saveOp) error {
	dbURL, done, err := b.srv.fresh(ctx, "diag_save", "")
	if err != nil {
		return err
	}
	defer done()
	store, m, err := openMetricsPG(ctx, dbURL, savePoolSize)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			store.Close()
		}
	}()
	u, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	name := strings.TrimPrefix(u.Path, "/")
	commits := func() (int64, error) {
		// Backends report their counts within a second, or when they exit.
		time.Sleep(1500 * time.Millisecond)
		conn, err := connect(ctx, b.srv.admin)
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		var n int64
		err = conn.QueryRow(ctx, "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", name).Scan(&n)
		return n, err
	}
	c0, err := commits()
	if err != nil {
		return err
	}
	res, err := runWriters(ctx, 0, b.sizes.SaveDur, op(ctx, m, store.Pool()))
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	store.Close() // its connections exit and report their counts
	closed = true
	c1, err := commits()
	if err != nil {
		return err
	}
	// The window's saves plus those finishing after it; a few extra
	// commits come from the measurement's own connections.
	self, pg := res.cpuPerSave()
	fmt.Fprintf(w, "| %s | %s | %.0f | %.0f | %.2f |\n", label, format(res.Rate, "tx/s"),
		pg, self, float64(c1-c0)/float64(max(res.Done, 1)))
	b.logf("diagnosis: %s: %s tx/s", label, format(res.Rate, "tx/s"))
	return nil
}
