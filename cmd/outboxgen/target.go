package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

// target is the outbox an operational command works on, chosen by flags.
type target struct {
	db, databaseURL string
}

func (t *target) register(fs *flag.FlagSet) {
	fs.StringVar(&t.db, "db", "", "the outbox's SQLite file")
	fs.StringVar(&t.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "the outbox's PostgreSQL database (postgres://…); default $DATABASE_URL")
}

// outboxDB is an open outbox, on either store.
type outboxDB struct {
	outbox.Store
	// Where names the database for people.
	Where  string
	sqlite *sqlitestore.Store // one of these two is set
	pg     *pgstore.Store
}

// open opens the outbox. Unless create is set, an SQLite file must exist:
// looking at a mistyped path should not leave an empty database there.
func (t *target) open(ctx context.Context, create bool) (*outboxDB, error) {
	switch {
	case t.db != "" && t.databaseURL != "" && os.Getenv("DATABASE_URL") != t.databaseURL:
		return nil, errors.New("give either --db (SQLite) or --database-url (PostgreSQL), not both")
	case t.db != "":
		if _, err := os.Stat(t.db); err != nil && !create {
			return nil, fmt.Errorf("no outbox at %s: check the path, or create it with \"outboxgen migrate --db %s\"", t.db, t.db)
		}
		s, err := sqlitestore.Open(ctx, t.db)
		if err != nil {
			return nil, err
		}
		return &outboxDB{Store: s, Where: "SQLite file " + t.db, sqlite: s}, nil
	case t.databaseURL != "":
		s, err := pgstore.Open(ctx, t.databaseURL, 4)
		if err != nil {
			return nil, err
		}
		return &outboxDB{Store: s, Where: "PostgreSQL", pg: s}, nil
	}
	return nil, errors.New("which outbox? give --db FILE (SQLite) or --database-url postgres://… (or set $DATABASE_URL)")
}

func (o *outboxDB) Close() {
	if o.sqlite != nil {
		o.sqlite.Close()
	} else {
		o.pg.Close()
	}
}

// migrate applies the outbox's own migrations.
func (o *outboxDB) migrate(ctx context.Context) error {
	if o.sqlite != nil {
		return o.sqlite.Migrate(ctx)
	}
	return o.pg.Migrate(ctx)
}

// applySchema applies a generated package's schema.
func (o *outboxDB) applySchema(ctx context.Context, ddl string, columns []outbox.Column) error {
	if o.sqlite != nil {
		return o.sqlite.ApplySchema(ctx, ddl, columns)
	}
	return o.pg.ApplySchema(ctx, ddl, columns)
}

type sqlTx = *sql.Tx

// query runs q, which selects a text and a count per row.
func (o *outboxDB) query(ctx context.Context, q string, row func(string, int64)) error {
	if o.sqlite != nil {
		rows, err := o.sqlite.DB().QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			var n int64
			if err := rows.Scan(&s, &n); err != nil {
				return err
			}
			row(s, n)
		}
		return rows.Err()
	}
	rows, err := o.pg.Pool().Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return err
		}
		row(s, n)
	}
	return rows.Err()
}
