package pgstore

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// PrepareConn makes conn send and read uuid.UUID values, and slices of
// them, as the 16 bytes they are; it is a pgxpool.Config.AfterConnect,
// which Open sets. Left to itself, pgx goes through uuid.UUID's
// driver.Valuer and sql.Scanner, which format every id as text to parse it
// back, and boxes each element of a []uuid.UUID through reflection: a
// claim reads two ids an event and a batch of completions sends two arrays
// of them, so that was about a third of the objects a delivered event
// allocated. A connection whose uuid type already has a codec other than
// pgx's own (one registered by an earlier AfterConnect, say) keeps it.
func PrepareConn(_ context.Context, conn *pgx.Conn) error {
	tm := conn.TypeMap()
	if t, ok := tm.TypeForOID(pgtype.UUIDOID); ok {
		if _, own := t.Codec.(pgtype.UUIDCodec); !own {
			return nil
		}
	}
	// pgx asks a type's codec first, before it looks for a sql.Scanner: a
	// codec is the one place that can take *uuid.UUID targets over.
	t := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	tm.RegisterType(t)
	tm.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: t}})
	tm.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{wrapUUIDSlice}, tm.TryWrapEncodePlanFuncs...)
	return nil
}

// uuidCodec is pgx's UUIDCodec with the binary format of uuid.UUID added;
// the text format, and every other Go type, are left to UUIDCodec.
type uuidCodec struct{ pgtype.UUIDCodec }

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if format == pgtype.BinaryFormatCode {
		switch value.(type) {
		case uuid.UUID, *uuid.UUID:
			return encodeUUID{}
		}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return scanUUID{}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

// encodeUUID writes a uuid.UUID, or what a *uuid.UUID points to, as its
// 16 bytes; a nil pointer is NULL.
type encodeUUID struct{}

func (encodeUUID) Encode(value any, buf []byte) ([]byte, error) {
	switch u := value.(type) {
	case uuid.UUID:
		return append(buf, u[:]...), nil
	case *uuid.UUID:
		if u == nil {
			return nil, nil
		}
		return append(buf, u[:]...), nil
	}
	return nil, fmt.Errorf("encode uuid: unexpected %T", value)
}

// scanUUID reads the 16 bytes of a uuid. NULL reads as the zero uuid, not
// as an error: uuid.UUID's sql.Scanner, which this replaces, took it too
// (leaving the value as it was, which is the zero uuid in a fresh row).
// Nullable columns are read into *uuid.UUID, which pgx sets to nil for
// NULL before this is asked.
type scanUUID struct{}

func (scanUUID) Scan(src []byte, target any) error {
	u := target.(*uuid.UUID)
	switch len(src) {
	case 0:
		if src == nil {
			*u = uuid.Nil
			return nil
		}
	case len(u):
		copy(u[:], src)
		return nil
	}
	return fmt.Errorf("scan uuid: %d bytes, want 16", len(src))
}

// wrapUUIDSlice hands a []uuid.UUID to the array codec as a uuidArray,
// whose elements are pointers into the slice: pgx's own wrapping of an
// unknown slice boxes each element into an interface, an allocation apiece.
func wrapUUIDSlice(value any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	if s, ok := value.([]uuid.UUID); ok {
		return &uuidSlicePlan{}, uuidArray(s), true
	}
	return nil, nil, false
}

type uuidSlicePlan struct{ next pgtype.EncodePlan }

func (p *uuidSlicePlan) SetNext(next pgtype.EncodePlan) { p.next = next }

func (p *uuidSlicePlan) Encode(value any, buf []byte) ([]byte, error) {
	return p.next.Encode(uuidArray(value.([]uuid.UUID)), buf)
}

// uuidArray is a []uuid.UUID as a one-dimensional pgtype.ArrayGetter.
type uuidArray []uuid.UUID

func (a uuidArray) Dimensions() []pgtype.ArrayDimension {
	if a == nil {
		return nil
	}
	return []pgtype.ArrayDimension{{Length: int32(len(a)), LowerBound: 1}}
}

func (a uuidArray) Index(i int) any { return &a[i] }

func (a uuidArray) IndexType() any { return new(uuid.UUID) }
