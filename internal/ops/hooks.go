package ops

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/outboxgen/outboxgen/internal/catalog"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

// applyCatalogSchema creates or upgrades the metric tables of cat in o, as
// the generated Migrate does.
func applyCatalogSchema(ctx context.Context, cat *catalog.Catalog, o *Outbox) error {
	schema, ok := cat.Schemas[o.dialect()]
	if !ok {
		return fmt.Errorf("%s has no %s schema; add %s to the spec's dialects", cat.Source, o.dialect(), o.dialect())
	}
	return o.applySchema(ctx, schema.DDL, schema.OutboxColumns())
}

// syncCounts counts each metric's entries by sync status.
func syncCounts(ctx context.Context, cat *catalog.Catalog, o *Outbox) (map[string]map[string]int64, error) {
	counts := map[string]map[string]int64{}
	for _, m := range cat.Metrics {
		// Table names come from validated identifiers.
		q := fmt.Sprintf("SELECT sync_status, count(*) FROM %s WHERE deleted_at IS NULL GROUP BY sync_status", m.Table)
		counts[m.Name] = map[string]int64{}
		err := o.query(ctx, q, func(scan func(...any) error) error {
			var status string
			var n int64
			err := scan(&status, &n)
			counts[m.Name][status] = n
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("count %s entries (run \"migrate\" with the catalog if its table is missing): %w", m.Name, err)
		}
	}
	return counts, nil
}

// registerHooks makes o mark entries synced on delivery, as the generated
// RegisterSQLite and RegisterPostgres do.
func registerHooks(cat *catalog.Catalog, o *Outbox) {
	for _, m := range cat.Metrics {
		for _, typ := range m.Events {
			if o.sqlite != nil {
				stmt := fmt.Sprintf("UPDATE %s SET sync_status = 'synced', backend_id = coalesce(?, backend_id) WHERE id = ? AND version = ?", m.Table)
				o.sqlite.OnDelivered(typ, func(ctx context.Context, tx sqlTx, d outbox.Delivery) error {
					_, err := tx.ExecContext(ctx, stmt, nullIfEmpty(d.Receipt.RemoteID), d.Event.AggregateID, d.Event.EntityVersion)
					return err
				})
				continue
			}
			stmt := fmt.Sprintf("UPDATE %s SET sync_status = 'synced', backend_id = coalesce($1, backend_id) WHERE id = $2::uuid AND version = $3", m.Table)
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
