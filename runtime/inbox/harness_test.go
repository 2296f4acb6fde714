package inbox_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/outboxgen/outboxgen/internal/pgtest"
	"github.com/outboxgen/outboxgen/runtime/inbox"
	"github.com/outboxgen/outboxgen/runtime/inbox/pginbox"
	"github.com/outboxgen/outboxgen/runtime/inbox/sqliteinbox"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The tests receive one metric, "note", with a hand-written contract of
// the shape generated receivers have: a payload with one required text
// field of at most 20 characters, and the deleted payload every metric
// shares. Applying a change records it in a table, in the transaction the
// handler gives, so what was applied is what committed. Each test runs on
// a PostgreSQL store and on an SQLite one.

type notePayload struct {
	PayloadVersion int       `json:"payload_version"`
	ID             uuid.UUID `json:"id"`
	UserID         string    `json:"user_id"`
	RecordedAt     time.Time `json:"recorded_at"`
	Text           string    `json:"text"`
	Version        int64     `json:"version"`
	BackendID      *string   `json:"backend_id"`
}

type deletedPayload struct {
	PayloadVersion int       `json:"payload_version"`
	Metric         string    `json:"metric"`
	ID             uuid.UUID `json:"id"`
	UserID         string    `json:"user_id"`
	Version        int64     `json:"version"`
	BackendID      *string   `json:"backend_id"`
	DeletedAt      time.Time `json:"deleted_at"`
}

var (
	noteFields    = inbox.Fields{Required: []string{"payload_version", "id", "user_id", "recorded_at", "text", "version"}, Optional: []string{"backend_id"}}
	deletedFields = inbox.Fields{Required: []string{"payload_version", "metric", "id", "user_id", "version", "deleted_at"}, Optional: []string{"backend_id"}}
)

func decodeNote(eventType string, payload []byte) (inbox.Decoded, error) {
	if eventType == "note.deleted" {
		var p deletedPayload
		if err := inbox.Decode(payload, deletedFields, &p); err != nil {
			return inbox.Decoded{}, err
		}
		return inbox.Decoded{EntityID: p.ID, UserID: p.UserID, Version: p.Version, DeletedAt: p.DeletedAt, Value: p}, nil
	}
	var p notePayload
	if err := inbox.Decode(payload, noteFields, &p); err != nil {
		return inbox.Decoded{}, err
	}
	if n := utf8.RuneCountInString(p.Text); n == 0 || n > 20 {
		return inbox.Decoded{}, &inbox.InvalidPayload{Errors: []inbox.FieldError{{Pointer: "/text", Detail: "must be 1 to 20 characters"}}}
	}
	return inbox.Decoded{EntityID: p.ID, UserID: p.UserID, Version: p.Version, Value: p}, nil
}

// hooks make Apply misbehave on notes with a given text.
type hooks struct {
	entered chan string   // receives the key of a "block" note once applying
	release chan struct{} // closed to let "block" notes finish
}

// appliedRow is one application of a change.
type appliedRow struct {
	Key, Kind, Text, BackendID, Subject string
	Version                             int64
	First                               bool
}

// contract receives notes at /v1/note and batches at /v1/batch; record
// stores an applied change in the transaction it is applied in.
func contract[Tx any](h *hooks, record func(ctx context.Context, tx Tx, entity uuid.UUID, r appliedRow) error) inbox.Contract[Tx] {
	return inbox.Contract[Tx]{
		BatchRoute: "/v1/batch",
		Metrics: []inbox.Metric[Tx]{{
			Name: "note", Route: "/v1/note",
			Created: "note.created", Updated: "note.updated", Deleted: "note.deleted",
			Decode: decodeNote,
			Apply: func(ctx context.Context, tx Tx, c inbox.Change, v any) error {
				text := ""
				if p, ok := v.(notePayload); ok {
					text = p.Text
				}
				switch text {
				case "refuse":
					return inbox.Refuse(http.StatusUnprocessableEntity, "notes may not say refuse")
				case "fail":
					return fmt.Errorf("the application failed")
				case "block":
					h.entered <- c.Key
					select {
					case <-h.release:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				return record(ctx, tx, c.EntityID, appliedRow{
					Key: c.Key, Kind: c.Kind.String(), Text: text, BackendID: c.BackendID,
					Subject: c.Subject, Version: c.Version, First: c.First,
				})
			},
		}},
	}
}

// appliedTable records applied changes; n orders them.
const appliedTable = `CREATE TABLE applied (
	n INTEGER PRIMARY KEY, key text, entity_id text, version bigint, kind text,
	text text, backend_id text, first boolean, subject text)`

// world is a migrated store, on PostgreSQL or SQLite, with a table of
// applied notes.
type world struct {
	t     *testing.T
	name  string
	hooks *hooks
	// shared reports whether receivers in several processes can share the
	// store and still answer a repeat in progress 409.
	shared bool
	// newHandler makes a receiver on the store; several may share it, as
	// receivers in several processes do.
	newHandler func(opts ...inbox.Option) (*inbox.Handler, error)
	// count returns the number a query (with ? parameters) selects.
	count func(query string, args ...any) int
	// exec runs a statement (with ? parameters).
	exec func(query string, args ...any)
	// appliedOf returns the changes applied to an entity, in order.
	appliedOf func(entity uuid.UUID) []appliedRow
	purge     func(retention time.Duration) (int64, error)
	purger    inbox.Purger
}

// eachStore runs test on a PostgreSQL store and on an SQLite store.
func eachStore(t *testing.T, test func(t *testing.T, w *world)) {
	t.Run("postgres", func(t *testing.T) { test(t, postgresWorld(t)) })
	t.Run("sqlite", func(t *testing.T) { test(t, sqliteWorld(t)) })
}

func newHooks() *hooks { return &hooks{entered: make(chan string, 16), release: make(chan struct{})} }

func postgresWorld(t *testing.T) *world {
	t.Helper()
	store, err := pginbox.Open(t.Context(), pgtest.NewDatabase(t), 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	if err := store.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	pool := store.Pool()
	if _, err := pool.Exec(t.Context(), strings.Replace(appliedTable, "INTEGER PRIMARY KEY", "bigserial", 1)); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, name: "postgres", hooks: newHooks(), shared: true, purger: store, purge: func(d time.Duration) (int64, error) { return store.Purge(t.Context(), d) }}
	record := func(ctx context.Context, tx pgx.Tx, entity uuid.UUID, r appliedRow) error {
		_, err := tx.Exec(ctx, `INSERT INTO applied (key, entity_id, version, kind, text, backend_id, first, subject)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, r.Key, entity.String(), r.Version, r.Kind, r.Text, r.BackendID, r.First, r.Subject)
		return err
	}
	w.newHandler = func(opts ...inbox.Option) (*inbox.Handler, error) {
		return inbox.New(store, contract(w.hooks, record), opts...)
	}
	w.exec = func(query string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(t.Context(), dollars(query), args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	w.count = func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(t.Context(), dollars(query), args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	w.appliedOf = func(entity uuid.UUID) []appliedRow {
		t.Helper()
		rows, err := pool.Query(t.Context(), `SELECT key, kind, text, backend_id, subject, version, first FROM applied WHERE entity_id = $1 ORDER BY n`, entity.String())
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[appliedRow])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	return w
}

// dollars turns ? parameters into PostgreSQL's $1, $2…
func dollars(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func sqliteWorld(t *testing.T) *world {
	t.Helper()
	store, err := sqliteinbox.Open(t.Context(), filepath.Join(t.TempDir(), "inbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	db := store.DB()
	if _, err := db.ExecContext(t.Context(), appliedTable); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, name: "sqlite", hooks: newHooks(), purger: store, purge: func(d time.Duration) (int64, error) { return store.Purge(t.Context(), d) }}
	record := func(ctx context.Context, tx *sql.Tx, entity uuid.UUID, r appliedRow) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO applied (key, entity_id, version, kind, text, backend_id, first, subject)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.Key, entity.String(), r.Version, r.Kind, r.Text, r.BackendID, r.First, r.Subject)
		return err
	}
	w.newHandler = func(opts ...inbox.Option) (*inbox.Handler, error) {
		return inbox.New(store, contract(w.hooks, record), opts...)
	}
	w.exec = func(query string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(t.Context(), query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	w.count = func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	w.appliedOf = func(entity uuid.UUID) []appliedRow {
		t.Helper()
		rows, err := db.QueryContext(t.Context(), `SELECT key, kind, text, backend_id, subject, version, first FROM applied WHERE entity_id = ? ORDER BY n`, entity.String())
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []appliedRow
		for rows.Next() {
			var r appliedRow
			if err := rows.Scan(&r.Key, &r.Kind, &r.Text, &r.BackendID, &r.Subject, &r.Version, &r.First); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	return w
}

// handler is a receiver on w's store, without authentication unless opts
// say otherwise.
func (w *world) handler(opts ...inbox.Option) *inbox.Handler {
	w.t.Helper()
	if len(opts) == 0 {
		opts = []inbox.Option{inbox.WithoutAuthentication()}
	}
	opts = append([]inbox.Option{inbox.WithLogger(slog.New(slog.NewTextHandler(w.t.Output(), nil)))}, opts...)
	h, err := w.newHandler(opts...)
	if err != nil {
		w.t.Fatal(err)
	}
	return h
}

// applied returns the changes applied to entity, in the order applied.
func (w *world) applied(entity uuid.UUID) []appliedRow { return w.appliedOf(entity) }

// answer is an HTTP answer.
type answer struct {
	status int
	header http.Header
	body   string
}

// receipt decodes a successful answer.
func (a answer) receipt(t *testing.T) (id string, applied bool) {
	t.Helper()
	var r struct {
		ID      string `json:"id"`
		Applied bool   `json:"applied"`
	}
	if err := json.Unmarshal([]byte(a.body), &r); err != nil || r.ID == "" {
		t.Fatalf("answer %d %q is not a receipt: %v", a.status, a.body, err)
	}
	return r.ID, r.Applied
}

// problemType is the last part of a problem answer's type.
func (a answer) problemType(t *testing.T) string {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("answer %d with Content-Type %q, want a problem: %s", a.status, ct, a.body)
	}
	var p inbox.Problem
	if err := json.Unmarshal([]byte(a.body), &p); err != nil || p.Status != a.status {
		t.Fatalf("answer %d %q is not a problem document of its status: %v", a.status, a.body, err)
	}
	return strings.TrimPrefix(p.Type, inbox.ProblemBase)
}

// post sends one request to h; header pairs are added to the defaults
// (Content-Type application/json, the key and event type given).
func post(h http.Handler, path, key, eventType, body string, header ...string) answer {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	if eventType != "" {
		r.Header.Set("X-Outbox-Event-Type", eventType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return answer{status: w.Code, header: w.Header(), body: w.Body.String()}
}

// note is a note's payload at a version.
func note(id uuid.UUID, user string, version int64, text string) string {
	b, _ := json.Marshal(notePayload{PayloadVersion: 1, ID: id, UserID: user, RecordedAt: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), Text: text, Version: version})
	return string(b)
}

// deleted is a note's deletion at a version.
func deleted(id uuid.UUID, user string, version int64) string {
	b, _ := json.Marshal(deletedPayload{PayloadVersion: 1, Metric: "note", ID: id, UserID: user, Version: version, DeletedAt: time.Date(2026, 5, 2, 12, 0, 0, 0, time.UTC)})
	return string(b)
}

// event is a change as a sender would post it: its key, type and payload.
type event struct {
	key, typ, payload string
}

func newEvent(typ, payload string) event { return event{uuid.NewString(), typ, payload} }

// send posts ev alone to h.
func send(h http.Handler, ev event) answer {
	return post(h, "/v1/note", ev.key, ev.typ, ev.payload)
}

// batchResult is one result of a batch answer.
type batchResult struct {
	ID       string             `json:"id"`
	Status   int                `json:"status"`
	RemoteID string             `json:"remote_id"`
	Applied  *bool              `json:"applied"`
	Replayed bool               `json:"replayed"`
	Type     string             `json:"type"`
	Title    string             `json:"title"`
	Errors   []inbox.FieldError `json:"errors"`
}

// sendBatch posts evs to h's batch route and returns the results by event.
func sendBatch(t *testing.T, h http.Handler, evs ...event) []batchResult {
	t.Helper()
	type item struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Path    string          `json:"path"`
		Attempt int             `json:"attempt"`
		Payload json.RawMessage `json:"payload"`
	}
	items := make([]item, len(evs))
	for i, ev := range evs {
		items[i] = item{ID: ev.key, Type: ev.typ, Path: "/v1/note", Attempt: 1, Payload: json.RawMessage(ev.payload)}
	}
	body, err := json.Marshal(map[string]any{"events": items})
	if err != nil {
		t.Fatal(err)
	}
	a := post(h, "/v1/batch", "", "", string(body))
	if a.status != http.StatusOK {
		t.Fatalf("batch: %d %s", a.status, a.body)
	}
	var res struct{ Results []batchResult }
	if err := json.Unmarshal([]byte(a.body), &res); err != nil || len(res.Results) != len(evs) {
		t.Fatalf("batch answer %s: %v", a.body, err)
	}
	for i, r := range res.Results {
		if r.ID != evs[i].key {
			t.Fatalf("result %d is for %s, want %s", i, r.ID, evs[i].key)
		}
	}
	return res.Results
}
