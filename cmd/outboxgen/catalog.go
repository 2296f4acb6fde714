package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/outboxgen/outboxgen/generator/model"
	"github.com/outboxgen/outboxgen/generator/spec"
	"github.com/outboxgen/outboxgen/generator/sqlgen"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

// catalog is what operating a generated package needs to know about it,
// read from its spec: its tables, events, routes and retry schedules. It
// lets this command work on any spec without linking the generated code.
type catalog struct {
	model *model.Model
}

func loadCatalog(path string) (*catalog, error) {
	s, err := spec.Load(path)
	if err != nil {
		return nil, err
	}
	m, err := model.Build(s, s.Package.ImportPath)
	if err != nil {
		return nil, err
	}
	return &catalog{model: m}, nil
}

// migrate applies the metric tables to o, as the generated Migrate does.
func (c *catalog) migrate(ctx context.Context, o *outboxDB) error {
	dialect, column := "postgres", func(f *model.Field) string { return f.PostgresType }
	if o.sqlite != nil {
		dialect, column = "sqlite", func(f *model.Field) string { return f.SQLiteType }
	}
	ddl, err := sqlgen.Schema(c.model, dialect)
	if err != nil {
		return err
	}
	var columns []outbox.Column
	for _, mt := range c.model.Metrics {
		for _, f := range mt.Fields {
			columns = append(columns, outbox.Column{Table: mt.Table, Name: f.Name, Definition: column(f)})
		}
	}
	return o.applySchema(ctx, string(ddl), columns)
}

// routes maps each event type to its delivery route.
func (c *catalog) routes() map[string]string {
	routes := map[string]string{}
	for _, mt := range c.model.Metrics {
		for _, typ := range []string{mt.Events.Created, mt.Events.Updated, mt.Events.Deleted} {
			routes[typ] = mt.Route
		}
	}
	return routes
}

// backoffs maps each event type to its retry schedule.
func (c *catalog) backoffs() map[string]outbox.Backoff {
	b := map[string]outbox.Backoff{}
	for _, mt := range c.model.Metrics {
		for _, typ := range []string{mt.Events.Created, mt.Events.Updated, mt.Events.Deleted} {
			b[typ] = outbox.Backoff{Base: mt.Backoff.Base, Max: mt.Backoff.Max, Jitter: 0.2}
		}
	}
	return b
}

// syncCounts counts each metric's entries by sync status.
func (c *catalog) syncCounts(ctx context.Context, o *outboxDB) (map[string]map[string]int64, error) {
	counts := map[string]map[string]int64{}
	for _, mt := range c.model.Metrics {
		// Table names come from validated identifiers.
		q := fmt.Sprintf("SELECT sync_status, count(*) FROM %s WHERE deleted_at IS NULL GROUP BY sync_status", mt.Table)
		counts[mt.Name] = map[string]int64{}
		err := o.query(ctx, q, func(status string, n int64) { counts[mt.Name][status] = n })
		if err != nil {
			return nil, fmt.Errorf("count %s entries (run \"outboxgen migrate --spec\" if its table is missing): %w", mt.Name, err)
		}
	}
	return counts, nil
}

// registerHooks makes o mark entries synced on delivery, as the generated
// RegisterSQLite and RegisterPostgres do.
func (c *catalog) registerHooks(o *outboxDB) {
	for _, mt := range c.model.Metrics {
		for _, typ := range []string{mt.Events.Created, mt.Events.Updated, mt.Events.Deleted} {
			if o.sqlite != nil {
				stmt := fmt.Sprintf("UPDATE %s SET sync_status = 'synced', backend_id = coalesce(?, backend_id) WHERE id = ? AND version = ?", mt.Table)
				o.sqlite.OnDelivered(typ, func(ctx context.Context, tx sqlTx, d outbox.Delivery) error {
					_, err := tx.ExecContext(ctx, stmt, nullIfEmpty(d.Receipt.RemoteID), d.Event.AggregateID, d.Event.EntityVersion)
					return err
				})
				continue
			}
			stmt := fmt.Sprintf("UPDATE %s SET sync_status = 'synced', backend_id = coalesce($1, backend_id) WHERE id = $2::uuid AND version = $3", mt.Table)
			o.pg.OnDelivered(typ, func(ctx context.Context, tx pgx.Tx, d outbox.Delivery) error {
				_, err := tx.Exec(ctx, stmt, nullIfEmpty(d.Receipt.RemoteID), d.Event.AggregateID, d.Event.EntityVersion)
				return err
			})
		}
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
