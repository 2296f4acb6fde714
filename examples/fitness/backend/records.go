package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics/receiver"
	"github.com/outboxgen/outboxgen/runtime/inbox"
)

// recordsSchema is the backend's own table in its SQLite file: each entry
// as the changes received leave it. The receiver's keys and versions are
// the inbox's (inbox_keys, inbox_entities), in the same file.
const recordsSchema = `
CREATE TABLE IF NOT EXISTS records (
    metric    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    version   INTEGER NOT NULL,
    deleted   BOOLEAN NOT NULL,
    payload   BLOB NOT NULL,
    PRIMARY KEY (metric, entity_id)
);`

// recorder is the backend's receiver.Applier on SQLite: it keeps every
// metric's entries in the records table, in the transaction that records
// each change's key. The receiver hands it each entry's changes in version
// order, once, so it checks nothing.
type recorder struct{}

var _ receiver.Applier[*sql.Tx] = recorder{}

// record stores entry, the entry as c leaves it; a deletion keeps the last
// values and marks the record deleted.
func (recorder) record(ctx context.Context, tx *sql.Tx, c inbox.Change, entry any) error {
	payload := []byte("null")
	if c.Kind != inbox.Deleted {
		var err error
		if payload, err = json.Marshal(entry); err != nil {
			return fmt.Errorf("record %s: %w", c.Metric, err)
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO records (metric, entity_id, user_id, version, deleted, payload)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (metric, entity_id) DO UPDATE SET version = excluded.version, deleted = excluded.deleted,
			payload = CASE WHEN excluded.deleted THEN records.payload ELSE excluded.payload END`,
		c.Metric, c.EntityID.String(), c.UserID, c.Version, c.Kind == inbox.Deleted, payload)
	if err != nil {
		return fmt.Errorf("record %s: %w", c.Metric, err)
	}
	return nil
}

// OnSteps records a steps change.
func (r recorder) OnSteps(ctx context.Context, tx *sql.Tx, c receiver.StepsChange) error {
	return r.record(ctx, tx, c.Change, c.Entry)
}

// OnHeartRate records a heart rate change.
func (r recorder) OnHeartRate(ctx context.Context, tx *sql.Tx, c receiver.HeartRateChange) error {
	return r.record(ctx, tx, c.Change, c.Entry)
}

// OnWeight records a weight change.
func (r recorder) OnWeight(ctx context.Context, tx *sql.Tx, c receiver.WeightChange) error {
	return r.record(ctx, tx, c.Change, c.Entry)
}

// OnHeight records a height change.
func (r recorder) OnHeight(ctx context.Context, tx *sql.Tx, c receiver.HeightChange) error {
	return r.record(ctx, tx, c.Change, c.Entry)
}

// OnMood records a mood change.
func (r recorder) OnMood(ctx context.Context, tx *sql.Tx, c receiver.MoodChange) error {
	return r.record(ctx, tx, c.Change, c.Entry)
}

// OnBodyFat records a body fat change.
func (r recorder) OnBodyFat(ctx context.Context, tx *sql.Tx, c receiver.BodyFatChange) error {
	return r.record(ctx, tx, c.Change, c.Entry)
}

// OnSleep records a sleep change.
func (r recorder) OnSleep(ctx context.Context, tx *sql.Tx, c receiver.SleepChange) error {
	return r.record(ctx, tx, c.Change, c.Entry)
}

// OnWaterIntake records a water intake change.
func (r recorder) OnWaterIntake(ctx context.Context, tx *sql.Tx, c receiver.WaterIntakeChange) error {
	return r.record(ctx, tx, c.Change, c.Entry)
}
