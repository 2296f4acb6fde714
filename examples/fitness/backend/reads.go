package backend

import (
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The backend's reads, for the demo's report and the tests: the same SQL
// on SQLite and PostgreSQL ($1 parameters work on both), over the
// receiver's inbox_keys and inbox_entities and the entries' tables.

// MetricCounts is what the backend holds for one metric.
type MetricCounts struct {
	Records    int // entries it holds, deleted ones not counted
	Deliveries int // distinct events received
	Duplicates int // deliveries of an already received event, answered from its key's record
}

// Counts returns, per metric, what the backend holds for the given users
// (all users when none are given).
func (s *Server) Counts(users ...string) (map[string]MetricCounts, error) {
	filter, args := "", []any{}
	if len(users) > 0 {
		marks := make([]string, len(users))
		for i, u := range users {
			marks[i] = fmt.Sprintf("$%d", i+1)
			args = append(args, u)
		}
		filter = " WHERE e.user_id IN (" + strings.Join(marks, ", ") + ")"
	}
	counts := map[string]MetricCounts{}
	err := each(s.db, `SELECT e.metric, sum(CASE WHEN e.deleted THEN 0 ELSE 1 END) FROM inbox_entities AS e`+filter+` GROUP BY e.metric`, args,
		func(rows *sql.Rows) error {
			var metric string
			var n int
			if err := rows.Scan(&metric, &n); err != nil {
				return err
			}
			c := counts[metric]
			c.Records = n
			counts[metric] = c
			return nil
		})
	if err != nil {
		return nil, err
	}
	err = each(s.db, `SELECT k.metric, count(*), sum(k.replays) FROM inbox_keys AS k
		JOIN inbox_entities AS e ON e.metric = k.metric AND e.entity_id = k.entity_id`+filter+` GROUP BY k.metric`, args,
		func(rows *sql.Rows) error {
			var metric string
			var n, dup int
			if err := rows.Scan(&metric, &n, &dup); err != nil {
				return err
			}
			c := counts[metric]
			c.Deliveries, c.Duplicates = n, dup
			counts[metric] = c
			return nil
		})
	return counts, err
}

// Record is what the backend holds for one entry.
type Record struct {
	UserID  string
	Version int64 // the highest applied
	Deleted bool  // a tombstone
	// BackendID is the receiver's id for the entry, which it answered
	// with and the app stores.
	BackendID string
	// Payload is the entry's values as JSON: on SQLite the payload of its
	// latest change (kept by a deletion), on PostgreSQL its row (nil once
	// deleted: the default storage removes deleted entries).
	Payload []byte
}

// sqliteRecords reads the records table the backend keeps on SQLite.
const sqliteRecords = `SELECT r.entity_id, r.user_id, r.version, r.deleted, r.payload, e.backend_id
	FROM records AS r JOIN inbox_entities AS e ON e.metric = r.metric AND e.entity_id = r.entity_id
	WHERE r.metric = $1`

// postgresRecords reads the versions and tombstones the receiver keeps and
// the entries of the default storage's table of metric.
func postgresRecords(metric string) string {
	return `SELECT e.entity_id::text, e.user_id, e.version, e.deleted, to_jsonb(r)::text, e.backend_id
		FROM inbox_entities AS e LEFT JOIN ` + pgx.Identifier{"received_" + metric}.Sanitize() + ` AS r ON r.id = e.entity_id
		WHERE e.metric = $1`
}

// Records returns the backend's records of one metric by entry id.
func (s *Server) Records(metric string) (map[string]Record, error) {
	out := map[string]Record{}
	err := each(s.db, s.records(metric), []any{metric}, func(rows *sql.Rows) error {
		var id string
		var r Record
		var payload sql.Null[[]byte]
		if err := rows.Scan(&id, &r.UserID, &r.Version, &r.Deleted, &payload, &r.BackendID); err != nil {
			return err
		}
		r.Payload = payload.V
		out[id] = r
		return nil
	})
	return out, err
}

// Received returns the idempotency keys of every event received, with how
// many times each was delivered again after the first.
func (s *Server) Received() (map[string]int, error) {
	out := map[string]int{}
	err := each(s.db, `SELECT key, replays FROM inbox_keys`, nil, func(rows *sql.Rows) error {
		var key string
		var dup int
		if err := rows.Scan(&key, &dup); err != nil {
			return err
		}
		out[key] = dup
		return nil
	})
	return out, err
}

// each runs query and calls scan on each row.
func each(db *sql.DB, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := db.Query(query, args...)
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("backend: %w", err)
		}
	}
	return rows.Err()
}
