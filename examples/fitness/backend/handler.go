package backend

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// maxBody bounds a request body: events are small.
const maxBody = 64 << 10

// Handler returns the backend's HTTP handler: POST /v1/<metric>.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/{metric}", s.receive)
	return mux
}

// payload is what every event body has in common.
type payload struct {
	PayloadVersion int       `json:"payload_version"`
	ID             uuid.UUID `json:"id"`
	UserID         string    `json:"user_id"`
	Version        int64     `json:"version"`
}

func (s *Server) receive(w http.ResponseWriter, r *http.Request) {
	if s.token != "" && r.Header.Get("Authorization") != "Bearer "+s.token {
		http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
		return
	}
	faults := s.currentFaults()
	if chance(faults.FailShare) {
		w.Header().Set("Retry-After", strconv.Itoa(int(faults.RetryAfter.Seconds())))
		http.Error(w, "injected failure", faults.FailStatus)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	eventType := r.Header.Get("X-Outbox-Event-Type")
	metric := r.PathValue("metric")
	if _, err := uuid.Parse(key); err != nil {
		http.Error(w, "Idempotency-Key must be the event's UUID", http.StatusBadRequest)
		return
	}
	if !strings.HasPrefix(eventType, metric+".") {
		http.Error(w, fmt.Sprintf("event type %q does not belong on /v1/%s", eventType, metric), http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, "body is not a JSON event payload: "+err.Error(), http.StatusBadRequest)
		return
	}
	if p.PayloadVersion < 1 || p.ID == uuid.Nil || p.UserID == "" || p.Version < 1 {
		http.Error(w, "payload lacks payload_version, id, user_id or version", http.StatusUnprocessableEntity)
		return
	}
	duplicate, err := s.store(r, key, eventType, metric, p, body)
	if err != nil {
		http.Error(w, "storing the event failed", http.StatusInternalServerError)
		return
	}
	if chance(faults.SlowShare) {
		select {
		case <-time.After(faults.SlowBy):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if duplicate {
		w.WriteHeader(http.StatusConflict)
	} else {
		w.WriteHeader(http.StatusCreated)
	}
	fmt.Fprintf(w, `{"id":%q}`, "be-"+p.ID.String()[:8])
}

// store records one delivery and applies it to the entity's record, in one
// transaction. A delivery whose key was seen before changes nothing but
// the duplicate count.
func (s *Server) store(r *http.Request, key, eventType, metric string, p payload, body []byte) (duplicate bool, err error) {
	tx, err := s.db.BeginTx(r.Context(), nil)
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
