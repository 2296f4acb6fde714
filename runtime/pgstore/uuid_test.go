package pgstore_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/outboxgen/outboxgen/internal/pgtest"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
)

// connect connects to a fresh database.
func connect(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.WithoutCancel(ctx)) })
	return conn
}

// prepared connects to a fresh database with PrepareConn applied.
func prepared(t *testing.T) *pgx.Conn {
	t.Helper()
	conn := connect(t)
	if err := pgstore.PrepareConn(t.Context(), conn); err != nil {
		t.Fatal(err)
	}
	return conn
}

type anotherUUIDCodec struct{ pgtype.UUIDCodec }

// An application that registered a uuid codec of its own keeps it, and so
// does a connection prepared twice (its wrapping plans are not stacked).
func TestPrepareConnKeepsAnotherUUIDCodec(t *testing.T) {
	conn := connect(t)
	tm := conn.TypeMap()
	mine := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: anotherUUIDCodec{}}
	tm.RegisterType(mine)
	wraps := len(tm.TryWrapEncodePlanFuncs)
	if err := pgstore.PrepareConn(t.Context(), conn); err != nil {
		t.Fatal(err)
	}
	if got, _ := tm.TypeForOID(pgtype.UUIDOID); got != mine || len(tm.TryWrapEncodePlanFuncs) != wraps {
		t.Fatalf("PrepareConn replaced the application's uuid codec (%T) or added wrapping plans (%d, was %d)", got.Codec, len(tm.TryWrapEncodePlanFuncs), wraps)
	}

	twice := prepared(t)
	wraps = len(twice.TypeMap().TryWrapEncodePlanFuncs)
	if err := pgstore.PrepareConn(t.Context(), twice); err != nil {
		t.Fatal(err)
	}
	if n := len(twice.TypeMap().TryWrapEncodePlanFuncs); n != wraps {
		t.Fatalf("a second PrepareConn added %d wrapping plans", n-wraps)
	}
}

// PostgreSQL's text of each value is the reference: a binary encoding that
// swapped or dropped a byte would print a different uuid.
func TestPrepareConnSendsUUIDsAsThemselves(t *testing.T) {
	conn := prepared(t)
	a, b := uuid.New(), uuid.New()
	var text, texts string
	var nullText *string
	err := conn.QueryRow(t.Context(), `SELECT $1::uuid::text, array_to_string($2::uuid[], ','), $3::uuid::text`,
		a, []uuid.UUID{a, b}, (*uuid.UUID)(nil)).Scan(&text, &texts, &nullText)
	if err != nil {
		t.Fatal(err)
	}
	if text != a.String() || texts != a.String()+","+b.String() || nullText != nil {
		t.Fatalf("sent %s and [%s %s] and nil, PostgreSQL read %s, %s and %v", a, a, b, text, texts, nullText)
	}
	if err := conn.QueryRow(t.Context(), `SELECT $1::uuid::text`, &b).Scan(&text); err != nil || text != b.String() {
		t.Fatalf("sent *uuid.UUID %s, PostgreSQL read %q (%v)", b, text, err)
	}
	if err := conn.QueryRow(t.Context(), `SELECT array_to_string($1::uuid[], ',')`, []uuid.UUID{}).Scan(&texts); err != nil || texts != "" {
		t.Fatalf("sent an empty []uuid.UUID, PostgreSQL read %q (%v)", texts, err)
	}
}

func TestPrepareConnReadsUUIDsAsThemselves(t *testing.T) {
	conn := prepared(t)
	want := uuid.New()
	var got uuid.UUID
	var some, none *uuid.UUID
	var many []uuid.UUID
	err := conn.QueryRow(t.Context(), `SELECT $1::text::uuid, $1::text::uuid, NULL::uuid, ARRAY[$1::text::uuid, $2::text::uuid]`,
		want.String(), uuid.Nil.String()).Scan(&got, &some, &none, &many)
	if err != nil {
		t.Fatal(err)
	}
	if got != want || some == nil || *some != want || none != nil || !slices.Equal(many, []uuid.UUID{want, uuid.Nil}) {
		t.Fatalf("PostgreSQL sent %s, %s, NULL and [%s %s]; read %s, %v, %v and %v", want, want, want, uuid.Nil, got, some, none, many)
	}
	// NULL into a uuid.UUID is the zero uuid, not an error (uuid.UUID's
	// sql.Scanner took it too, leaving a fresh row's zero uuid).
	got = want
	if err := conn.QueryRow(t.Context(), `SELECT NULL::uuid`).Scan(&got); err != nil || got != uuid.Nil {
		t.Fatalf("NULL read as %s (%v), want the zero uuid", got, err)
	}
}

// What PrepareConn is for: no allocation per id read, and none per element
// of an array sent (the old paths made a string per id read and boxed each
// element).
func TestPrepareConnCodesUUIDsWithoutAllocating(t *testing.T) {
	tm := prepared(t).TypeMap()
	id := uuid.New()
	var got uuid.UUID
	scan := tm.PlanScan(pgtype.UUIDOID, pgtype.BinaryFormatCode, &got)
	if n := testing.AllocsPerRun(100, func() {
		if err := scan.Scan(id[:], &got); err != nil {
			t.Fatal(err)
		}
	}); n != 0 || got != id {
		t.Fatalf("reading a uuid: %v allocations and %s, want none and %s", n, got, id)
	}
	ids := make([]uuid.UUID, 100)
	encode := tm.PlanEncode(pgtype.UUIDArrayOID, pgtype.BinaryFormatCode, ids)
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := encode.Encode(ids, buf[:0]); err != nil {
			t.Fatal(err)
		}
	}); n > 5 {
		t.Fatalf("sending 100 uuids: %v allocations, want a few for the array", n)
	}
}
