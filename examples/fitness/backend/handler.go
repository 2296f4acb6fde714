package backend

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
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
	title      string        // why it failed: a problem document's title
	retryAfter time.Duration // what Retry-After says, if anything
	remoteID   string        // the backend's id, when delivered
	slow       bool          // answer only after Faults.SlowBy
	drop       bool          // drop the connection without an answer
}

// accept handles one delivery whose key is not being processed by another
// request: the fault injection, validation, idempotency and storage that
// every event gets, whether it came alone or in a batch.
func (s *Server) accept(ctx context.Context, faults Faults, d delivery) answer {
	if chance(faults.FailShare) {
		return answer{status: faults.FailStatus, title: "injected failure", retryAfter: faults.RetryAfter}
	}
	if chance(faults.InProgressShare) {
		return inProgress()
	}
	if !strings.HasPrefix(d.eventType, d.metric+".") {
		return answer{status: http.StatusBadRequest, title: "the event type does not belong on this route"}
	}
	if d.bodyErr != nil {
		return answer{status: http.StatusRequestEntityTooLarge, title: "body too large"}
	}
	var p payload
	if err := json.Unmarshal(d.body, &p); err != nil {
		return answer{status: http.StatusBadRequest, title: "the body is not a JSON event payload"}
	}
	if p.PayloadVersion < 1 || p.ID == uuid.Nil || p.UserID == "" || p.Version < 1 {
		return answer{status: http.StatusUnprocessableEntity, title: "the payload lacks payload_version, id, user_id or version"}
	}
	if faults.DropEntity != "" && p.ID.String() == faults.DropEntity {
		return answer{drop: true}
	}
	a, err := s.store(ctx, d, p)
	if err != nil {
		return answer{status: http.StatusInternalServerError, title: "storing the event failed"}
	}
	a.slow = chance(faults.SlowShare)
	return a
}

// checkKey answers a delivery whose idempotency key is missing or not an
// event id, and is zero for a good one.
func checkKey(key string) answer {
	if key == "" {
		return answer{status: http.StatusBadRequest, title: "the Idempotency-Key header is missing"}
	}
	if _, err := uuid.Parse(key); err != nil {
		return answer{status: http.StatusBadRequest, title: "the Idempotency-Key must be the event's UUID"}
	}
	return answer{}
}

// inProgress is the answer to a request whose key another request is still
// processing.
func inProgress() answer {
	return answer{status: http.StatusConflict, title: "a request with this Idempotency-Key is still being processed", retryAfter: time.Second}
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

// drop closes the request's connection without an answer, as a backend
// that crashed on it would.
func drop(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

func (s *Server) receive(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeAnswer(w, answer{status: http.StatusUnauthorized, title: "missing or wrong bearer token"})
		return
	}
	faults := s.currentFaults()
	key := r.Header.Get("Idempotency-Key")
	if a := checkKey(key); a.status != 0 {
		writeAnswer(w, a)
		return
	}
	if !s.begin(key) {
		writeAnswer(w, inProgress())
		return
	}
	defer s.end(key) // after the answer is written: a repeat meanwhile is in progress
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	a := s.accept(r.Context(), faults, delivery{
		key: key, eventType: r.Header.Get("X-Outbox-Event-Type"),
		metric: r.PathValue("metric"), body: body, bodyErr: err,
	})
	switch {
	case a.drop:
		drop(w)
	case a.slow && !slowDown(r, faults):
	default:
		writeAnswer(w, a)
	}
}

// writeAnswer writes a as the response to a single event: the backend's
// id on success, a problem document (RFC 9457) otherwise.
func writeAnswer(w http.ResponseWriter, a answer) {
	if a.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(a.retryAfter.Seconds()))))
	}
	if a.status >= 200 && a.status < 300 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		fmt.Fprintf(w, `{"id":%q}`, a.remoteID)
		return
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(a.status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": a.title, "status": a.status})
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
	Title    string `json:"title,omitempty"`
	RemoteID string `json:"remote_id,omitempty"`
}

// receiveBatch handles each event of a batch as receive would handle it
// alone, and answers 200 with each one's status. What receive would answer
// to any request (no token, every request failing) it answers to the batch
// as a whole.
func (s *Server) receiveBatch(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeAnswer(w, answer{status: http.StatusUnauthorized, title: "missing or wrong bearer token"})
		return
	}
	faults := s.currentFaults()
	if faults.FailShare >= 1 {
		writeAnswer(w, answer{status: faults.FailStatus, title: "injected failure", retryAfter: faults.RetryAfter})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBatchBody))
	if err != nil {
		writeAnswer(w, answer{status: http.StatusRequestEntityTooLarge, title: fmt.Sprintf("batch body over %d MiB; send fewer events per batch", maxBatchBody>>20)})
		return
	}
	var req batchRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Events == nil {
		writeAnswer(w, answer{status: http.StatusBadRequest, title: `the body is not a batch: want {"events":[...]}`})
		return
	}
	if len(req.Events) > maxBatchEvents {
		writeAnswer(w, answer{status: http.StatusRequestEntityTooLarge, title: fmt.Sprintf("over %d events in one batch; send fewer events per batch", maxBatchEvents)})
		return
	}

	results := make([]batchResult, len(req.Events))
	slow := false
	for i, ev := range req.Events {
		results[i] = batchResult{ID: ev.ID}
		// The metric comes from the path the event would be posted to
		// alone, as POST /v1/{metric} would match it.
		metric, ok := strings.CutPrefix(ev.Path, "/v1/")
		if !ok || metric == "" || metric == "batch" || strings.Contains(metric, "/") {
			// What the mux answers to a path it does not serve.
			results[i].Status = http.StatusNotFound
			continue
		}
		if a := checkKey(ev.ID); a.status != 0 {
			results[i].Status, results[i].Title = a.status, a.title
			continue
		}
		var a answer
		if s.begin(ev.ID) {
			defer s.end(ev.ID) // after the answer is written
			d := delivery{key: ev.ID, eventType: ev.Type, metric: metric, body: ev.Payload}
			if len(ev.Payload) > maxBody {
				d.bodyErr = errors.New("payload too large")
			}
			a = s.accept(r.Context(), faults, d)
		} else {
			a = inProgress()
		}
		if a.drop {
			drop(w)
			return
		}
		slow = slow || a.slow
		results[i].Status, results[i].RemoteID = a.status, a.remoteID
		if a.status >= 300 {
			results[i].Title = a.title
		}
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

// store completes one delivery and applies it to the entity's record, in
// one transaction, and returns the answer it gets. A key completed before
// gets its original answer again and changes nothing but the duplicate
// count; the same key with another body is refused with 422.
func (s *Server) store(ctx context.Context, d delivery, p payload) (answer, error) {
	sum := sha256.Sum256(d.body)
	hash := hex.EncodeToString(sum[:])
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return answer{}, err
	}
	defer tx.Rollback()
	var stored answer
	var storedHash string
	err = tx.QueryRow(`SELECT body_sha256, status, remote_id FROM idempotency_keys WHERE idempotency_key = ?`, d.key).
		Scan(&storedHash, &stored.status, &stored.remoteID)
	switch {
	case err == nil && storedHash != hash:
		return answer{status: http.StatusUnprocessableEntity, title: "this Idempotency-Key was used with a different body"}, nil
	case err == nil:
		if _, err := tx.Exec(`UPDATE idempotency_keys SET duplicates = duplicates + 1 WHERE idempotency_key = ?`, d.key); err != nil {
			return answer{}, err
		}
		return stored, tx.Commit()
	case !errors.Is(err, sql.ErrNoRows):
		return answer{}, err
	}
	// The entity's id identifies it, so the backend's id is made from all
	// of it.
	a := answer{status: http.StatusCreated, remoteID: "be-" + p.ID.String()}
	if _, err := tx.Exec(`INSERT INTO idempotency_keys
		(idempotency_key, event_type, metric, entity_id, body_sha256, status, remote_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		d.key, d.eventType, d.metric, p.ID.String(), hash, a.status, a.remoteID, time.Now().UnixMicro()); err != nil {
		return answer{}, err
	}
	// Events of one entity arrive in order; a version guard keeps the
	// record right even if they did not.
	_, err = tx.Exec(`INSERT INTO records (metric, entity_id, user_id, version, deleted, payload) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (metric, entity_id) DO UPDATE SET version = excluded.version, deleted = excluded.deleted, payload = excluded.payload
		WHERE excluded.version > records.version`,
		d.metric, p.ID.String(), p.UserID, p.Version, strings.HasSuffix(d.eventType, ".deleted"), d.body)
	if err != nil {
		return answer{}, err
	}
	return a, tx.Commit()
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
	rows, err = s.db.Query(`SELECT d.metric, count(*), sum(d.duplicates) FROM idempotency_keys d
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
	rows, err := s.db.Query(`SELECT idempotency_key, duplicates FROM idempotency_keys`)
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
