package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// maxBody bounds a request body, or a batch item's payload: events are
// small.
const maxBody = 64 << 10

// A batch request is bounded too, in bytes and in events: enough for the
// batches a processor sends (Config.SendBatch), not for a flood.
const (
	maxBatchBody   = 16 << 20
	maxBatchEvents = 1000
)

// Handler returns the backend's HTTP handler: POST /v1/<metric> receives
// one event, and POST /v1/batch several, in the batch format of
// runtime/httpsender (so no metric can be called "batch").
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/{metric}", s.receive)
	mux.HandleFunc("POST /v1/batch", s.receiveBatch)
	return mux
}

// payload is what every event body has in common.
type payload struct {
	PayloadVersion int       `json:"payload_version"`
	ID             uuid.UUID `json:"id"`
	UserID         string    `json:"user_id"`
	Version        int64     `json:"version"`
}

// delivery is one event as the backend receives it, alone or in a batch.
type delivery struct {
	key       string // the idempotency key
	eventType string
	metric    string // from the path the event was (or would be) posted to
	body      []byte
	bodyErr   error // the body could not be read whole
}

// answer is the backend's verdict on one delivery.
type answer struct {
	status     int
	text       string        // why it failed
	retryAfter time.Duration // with injected: what Retry-After says
	injected   bool          // a failure the Faults asked for
	remoteID   string        // the backend's id, when delivered
	slow       bool          // answer only after Faults.SlowBy
}

// accept handles one delivery: the fault injection, validation, dedupe on
// the idempotency key and storage that every event gets, whether it came
// alone or in a batch.
func (s *Server) accept(ctx context.Context, faults Faults, d delivery) answer {
	if chance(faults.FailShare) {
		return injectedFailure(faults)
	}
	if _, err := uuid.Parse(d.key); err != nil {
		return answer{status: http.StatusBadRequest, text: "Idempotency-Key must be the event's UUID"}
	}
	if !strings.HasPrefix(d.eventType, d.metric+".") {
		return answer{status: http.StatusBadRequest, text: fmt.Sprintf("event type %q does not belong on /v1/%s", d.eventType, d.metric)}
	}
	if d.bodyErr != nil {
		return answer{status: http.StatusRequestEntityTooLarge, text: "body too large"}
	}
	var p payload
	if err := json.Unmarshal(d.body, &p); err != nil {
		return answer{status: http.StatusBadRequest, text: "body is not a JSON event payload: " + err.Error()}
	}
	if p.PayloadVersion < 1 || p.ID == uuid.Nil || p.UserID == "" || p.Version < 1 {
		return answer{status: http.StatusUnprocessableEntity, text: "payload lacks payload_version, id, user_id or version"}
	}
	duplicate, err := s.store(ctx, d.key, d.eventType, d.metric, p, d.body)
	if err != nil {
		return answer{status: http.StatusInternalServerError, text: "storing the event failed"}
	}
	a := answer{status: http.StatusCreated, remoteID: "be-" + p.ID.String()[:8], slow: chance(faults.SlowShare)}
	if duplicate {
		a.status = http.StatusConflict
	}
	return a
}

// injectedFailure is the answer the Faults ask for instead of handling a
// request.
func injectedFailure(f Faults) answer {
	return answer{status: f.FailStatus, text: "injected failure", retryAfter: f.RetryAfter, injected: true}
}

// authorized reports whether r carries the bearer token the backend
// requires, if it requires one.
func (s *Server) authorized(r *http.Request) bool {
	return s.token == "" || r.Header.Get("Authorization") == "Bearer "+s.token
}

// slowDown waits out Faults.SlowBy before an answer that drew it, and
// reports false when the client gave up meanwhile.
func slowDown(r *http.Request, f Faults) bool {
	select {
	case <-time.After(f.SlowBy):
		return true
	case <-r.Context().Done():
		return false
	}
}

func (s *Server) receive(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
		return
	}
	faults := s.currentFaults()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	a := s.accept(r.Context(), faults, delivery{
		key: r.Header.Get("Idempotency-Key"), eventType: r.Header.Get("X-Outbox-Event-Type"),
		metric: r.PathValue("metric"), body: body, bodyErr: err,
	})
	if a.slow && !slowDown(r, faults) {
		return
	}
	writeAnswer(w, a)
}

// writeAnswer writes a as the response to a single event.
func writeAnswer(w http.ResponseWriter, a answer) {
	if a.status != http.StatusCreated && a.status != http.StatusConflict {
		if a.injected {
			w.Header().Set("Retry-After", strconv.Itoa(int(a.retryAfter.Seconds())))
		}
		http.Error(w, a.text, a.status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	fmt.Fprintf(w, `{"id":%q}`, a.remoteID)
}

// batchRequest is the body of a batch request, in httpsender's format; the
// backend reads the fields it needs.
type batchRequest struct {
	Events []struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Path    string          `json:"path"`
		Payload json.RawMessage `json:"payload"`
	} `json:"events"`
}

// batchResult is one event's result in a batch response.
type batchResult struct {
	ID       string `json:"id"`
	Status   int    `json:"status"`
	Error    string `json:"error,omitempty"`
	RemoteID string `json:"remote_id,omitempty"`
}

// receiveBatch handles each event of a batch as receive would handle it
// alone, and answers 200 with each one's status. What receive would answer
// to any request (no token, every request failing) it answers to the batch
// as a whole.
func (s *Server) receiveBatch(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
		return
	}
	faults := s.currentFaults()
	if faults.FailShare >= 1 {
		writeAnswer(w, injectedFailure(faults))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBatchBody))
	if err != nil {
		http.Error(w, fmt.Sprintf("batch body over %d MiB; send fewer events per batch", maxBatchBody>>20), http.StatusRequestEntityTooLarge)
		return
	}
	var req batchRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Events == nil {
		http.Error(w, `body is not a batch: want {"events":[...]}`, http.StatusBadRequest)
		return
	}
	if len(req.Events) > maxBatchEvents {
		http.Error(w, fmt.Sprintf("%d events in one batch, over the limit of %d; send fewer events per batch", len(req.Events), maxBatchEvents), http.StatusRequestEntityTooLarge)
		return
	}

	results := make([]batchResult, len(req.Events))
	slow := false
	for i, ev := range req.Events {
		// The metric comes from the path the event would be posted to
		// alone, as POST /v1/{metric} would match it.
		metric, ok := strings.CutPrefix(ev.Path, "/v1/")
		if !ok || metric == "" || metric == "batch" || strings.Contains(metric, "/") {
			// What the mux answers to a path it does not serve.
			results[i] = batchResult{ID: ev.ID, Status: http.StatusNotFound, Error: "404 page not found"}
			continue
		}
		d := delivery{key: ev.ID, eventType: ev.Type, metric: metric, body: ev.Payload}
		if len(ev.Payload) > maxBody {
			d.bodyErr = errors.New("payload too large")
		}
		a := s.accept(r.Context(), faults, d)
		slow = slow || a.slow
		results[i] = batchResult{ID: ev.ID, Status: a.status, Error: a.text, RemoteID: a.remoteID}
	}
	// One wait for the batch, as a slow single answer waits once.
	if slow && !slowDown(r, faults) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Results []batchResult `json:"results"`
	}{results})
}

// store records one delivery and applies it to the entity's record, in one
// transaction. A delivery whose key was seen before changes nothing but
// the duplicate count.
func (s *Server) store(ctx context.Context, key, eventType, metric string, p payload, body []byte) (duplicate bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	res, err := tx.Exec(`INSERT INTO deliveries (idempotency_key, event_type, metric, entity_id, received_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
		key, eventType, metric, p.ID.String(), time.Now().UnixMicro())
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := tx.Exec(`UPDATE deliveries SET duplicates = duplicates + 1 WHERE idempotency_key = ?`, key); err != nil {
			return false, err
		}
		return true, tx.Commit()
	}
	// Events of one entity arrive in order; a version guard keeps the
	// record right even if they did not.
	_, err = tx.Exec(`INSERT INTO records (metric, entity_id, user_id, version, deleted, payload) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (metric, entity_id) DO UPDATE SET version = excluded.version, deleted = excluded.deleted, payload = excluded.payload
		WHERE excluded.version > records.version`,
		metric, p.ID.String(), p.UserID, p.Version, strings.HasSuffix(eventType, ".deleted"), body)
	if err != nil {
		return false, err
	}
	return false, tx.Commit()
}

// MetricCounts is what the backend holds for one metric.
type MetricCounts struct {
	Records    int // entities it holds, deleted ones not counted
	Deliveries int // distinct events received
	Duplicates int // deliveries of an already received event
}

// Counts returns, per metric, what the backend holds for the given users
// (all users when none are given).
func (s *Server) Counts(users ...string) (map[string]MetricCounts, error) {
	counts := map[string]MetricCounts{}
	userFilter, args := "", []any{}
	if len(users) > 0 {
		userFilter = " WHERE user_id IN (?" + strings.Repeat(",?", len(users)-1) + ")"
		for _, u := range users {
			args = append(args, u)
		}
	}
	rows, err := s.db.Query(`SELECT metric, sum(NOT deleted) FROM records`+userFilter+` GROUP BY metric`, args...)
	if err != nil {
		return nil, err
	}
	if err := scanCounts(rows, func(metric string, n int) { c := counts[metric]; c.Records = n; counts[metric] = c }); err != nil {
		return nil, err
	}
	rows, err = s.db.Query(`SELECT d.metric, count(*), sum(d.duplicates) FROM deliveries d
		JOIN records r ON r.metric = d.metric AND r.entity_id = d.entity_id`+strings.ReplaceAll(userFilter, "user_id", "r.user_id")+` GROUP BY d.metric`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var metric string
		var n, dup int
		if err := rows.Scan(&metric, &n, &dup); err != nil {
			return nil, err
		}
		c := counts[metric]
		c.Deliveries, c.Duplicates = n, dup
		counts[metric] = c
	}
	return counts, rows.Err()
}

func scanCounts(rows *sql.Rows, set func(string, int)) error {
	defer rows.Close()
	for rows.Next() {
		var metric string
		var n sql.NullInt64
		if err := rows.Scan(&metric, &n); err != nil {
			return err
		}
		set(metric, int(n.Int64))
	}
	return rows.Err()
}

// Record is what the backend holds for one entity.
type Record struct {
	UserID  string
	Version int64
	Deleted bool
	Payload []byte
}

// Records returns the backend's records of one metric by entity id.
func (s *Server) Records(metric string) (map[string]Record, error) {
	rows, err := s.db.Query(`SELECT entity_id, user_id, version, deleted, payload FROM records WHERE metric = ?`, metric)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Record{}
	for rows.Next() {
		var id string
		var r Record
		if err := rows.Scan(&id, &r.UserID, &r.Version, &r.Deleted, &r.Payload); err != nil {
			return nil, err
		}
		out[id] = r
	}
	return out, rows.Err()
}

// Received returns the idempotency keys of every event received, with how
// many times each was delivered again after the first.
func (s *Server) Received() (map[string]int, error) {
	rows, err := s.db.Query(`SELECT idempotency_key, duplicates FROM deliveries`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var key string
		var dup int
		if err := rows.Scan(&key, &dup); err != nil {
			return nil, err
		}
		out[key] = dup
	}
	return out, rows.Err()
}
