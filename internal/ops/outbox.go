package ops

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/outboxgen/outboxgen/internal/cli"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

// target is the outbox a command works on, chosen by flags.
type target struct {
	db, databaseURL string
}

func (t *target) register(fs *flag.FlagSet) {
	fs.StringVar(&t.db, "db", "", "the outbox's SQLite file")
	fs.StringVar(&t.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "the outbox's PostgreSQL database (postgres://…); default $DATABASE_URL")
}

// Outbox is an open outbox, on either store.
type Outbox struct {
	outbox.Store
	// Where names the database for people: the SQLite file, or the
	// PostgreSQL host, database and user, never a password.
	Where  string
	sqlite *sqlitestore.Store // one of these two is set
	pg     *pgstore.Store
}

// open opens the outbox. Unless migrating is set, an SQLite file must exist
// (looking at a mistyped path should not leave an empty database there) and
// the outbox's tables must have been created.
func (t *target) open(e *env, migrating bool) (*Outbox, error) {
	return t.openWarning(e, migrating, func(w string) { fmt.Fprintf(e.Stderr, "warning: %s\n", w) })
}

// openLogged is open for the daemons (run, ui), whose standard error is
// their log: a warning is a record of it, in its format.
func (t *target) openLogged(e *env, log *slog.Logger) (*Outbox, error) {
	return t.openWarning(e, false, func(w string) { log.Warn(w) })
}

// openWarning is open with warnings, such as a database ahead of the
// binary, given to warn.
func (t *target) openWarning(e *env, migrating bool, warn func(string)) (*Outbox, error) {
	o, err := t.connect(e.Ctx, e.Program, migrating)
	if err != nil {
		return nil, err
	}
	if migrating {
		return o, nil
	}
	warning, err := o.checkMigrated(e.Ctx, e.Program, t)
	if err != nil {
		o.Close()
		return nil, err
	}
	if warning != "" {
		warn(warning)
	}
	return o, nil
}

func (t *target) connect(ctx context.Context, program string, create bool) (*Outbox, error) {
	switch {
	case t.db != "" && t.databaseURL != "" && os.Getenv("DATABASE_URL") != t.databaseURL:
		return nil, cli.Usagef("give either --db (SQLite) or --database-url (PostgreSQL), not both")
	case t.db != "":
		if _, err := os.Stat(t.db); err != nil && !create {
			return nil, fmt.Errorf("no outbox at %s: check the path, or create it with \"%s migrate --db %s\"", t.db, program, t.db)
		}
		s, err := sqlitestore.Open(ctx, t.db)
		if err != nil {
			return nil, err
		}
		return &Outbox{Store: s, Where: "SQLite file " + t.db, sqlite: s}, nil
	case t.databaseURL != "":
		where, err := describePostgres(t.databaseURL)
		if err != nil {
			return nil, err
		}
		s, err := pgstore.Open(ctx, t.databaseURL, 4)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", where, err)
		}
		return &Outbox{Store: s, Where: where, pg: s}, nil
	}
	return nil, cli.Usagef("which outbox? give --db FILE (SQLite) or --database-url postgres://… (or set $DATABASE_URL)")
}

// describePostgres names a PostgreSQL database for people, e.g.
// "PostgreSQL database app on db.example.com:5432 as user ops", from a URL
// or a keyword/value string, leaving out the password.
func describePostgres(url string) (string, error) {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		// pgconn's message may quote the string, password included.
		return "", cli.Usagef("--database-url does not parse as a PostgreSQL URL (postgres://user@host:5432/database) or keyword/value string (host=… dbname=…)")
	}
	host := cfg.Host
	if len(host) > 0 && host[0] == '/' {
		host = "socket " + host
	}
	return fmt.Sprintf("PostgreSQL database %s on %s:%d as user %s", cfg.Database, host, cfg.Port, cfg.User), nil
}

// Close closes the database.
func (o *Outbox) Close() {
	if o.sqlite != nil {
		o.sqlite.Close()
	} else {
		o.pg.Close()
	}
}

// migrate applies the outbox's own migrations.
func (o *Outbox) migrate(ctx context.Context) error {
	if o.sqlite != nil {
		return o.sqlite.Migrate(ctx)
	}
	return o.pg.Migrate(ctx)
}

// applySchema applies a generated package's schema.
func (o *Outbox) applySchema(ctx context.Context, ddl string, columns []outbox.Column) error {
	if o.sqlite != nil {
		return o.sqlite.ApplySchema(ctx, ddl, columns)
	}
	return o.pg.ApplySchema(ctx, ddl, columns)
}

// dialect is the store's SQL dialect, as catalogs name it.
func (o *Outbox) dialect() string {
	if o.sqlite != nil {
		return "sqlite"
	}
	return "postgres"
}

// query runs q with args; scan is called for each row.
func (o *Outbox) query(ctx context.Context, q string, scan func(scan func(dest ...any) error) error, args ...any) error {
	if o.sqlite != nil {
		rows, err := o.sqlite.DB().QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows.Scan); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	rows, err := o.pg.Pool().Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

type sqlTx = *sql.Tx
