package generator_test

import (
	"fmt"
	"strings"

	"github.com/outboxgen/outboxgen/generator/model"
	"github.com/outboxgen/outboxgen/generator/spec"
)

// smokePackage is one generated package the smoke program exercises.
type smokePackage struct {
	alias, importPath string
	m                 *model.Model
}

// smokeProgram writes a program that, for each package and each dialect
// it supports, migrates the metric tables twice, then for every metric
// saves an entry with every field set, reads it back, lists and counts
// it, delivers its event (the delivered hook marks it synced), deletes it
// and saves it again; and on its receiver, migrates the default storage
// twice, then for every metric posts an entry with every field set, a
// stale version of it and its deletion, reading it back between: every
// query and hook of the generated code runs. It takes, in order, an
// SQLite file and a PostgreSQL URL per package.
func smokeProgram(pkgs []smokePackage) []byte {
	var b strings.Builder
	b.WriteString(`package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/inbox"
	"github.com/outboxgen/outboxgen/runtime/inbox/pginbox"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
`)
	for _, p := range pkgs {
		fmt.Fprintf(&b, "\t%s %q\n", p.alias, p.importPath)
		fmt.Fprintf(&b, "\t%s_receiver %q\n", p.alias, p.importPath+"/receiver")
		fmt.Fprintf(&b, "\t%s_wire %q\n", p.alias, p.importPath+"/wire")
	}
	b.WriteString(`)

// Every package may support only one of the dialects.
var _, _ = sqlitestore.Open, pgstore.Open

func main() {
	ctx := context.Background()
	args := os.Args[1:]
`)
	for i, p := range pkgs {
		fmt.Fprintf(&b, "\tif err := smoke_%s(ctx, args[%d], args[%d]); err != nil {\n\t\tfmt.Fprintln(os.Stderr, %q, err)\n\t\tos.Exit(1)\n\t}\n",
			p.alias, 2*i, 2*i+1, p.importPath+":")
	}
	b.WriteString(`	fmt.Println("ok")
}

func ptr[T any](v T) *T { return &v }

// Specs of one dialect use one of the stores.
var _, _ = pgstore.Open, sqlitestore.Open

// deliver claims every pending event and records it delivered.
func deliver(ctx context.Context, store outbox.Store) error {
	evs, err := store.Claim(ctx, "smoke", 1000, time.Minute)
	if err != nil {
		return err
	}
	var outs []outbox.Outcome
	for _, ev := range evs {
		outs = append(outs, outbox.Outcome{Event: ev, Kind: outbox.Delivered, Receipt: outbox.Receipt{RemoteID: "remote"}})
	}
	res, err := store.Finish(ctx, outs)
	if err != nil {
		return err
	}
	if len(res.HookErrors) > 0 || len(res.Lost) > 0 {
		return fmt.Errorf("finish: %+v", res)
	}
	return nil
}

// receive posts a payload to h as the sender would, and returns the status
// and the receipt.
func receive(h http.Handler, route, eventType string, payload any) (int, string, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, "", err
	}
	r := httptest.NewRequest(http.MethodPost, route, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Idempotency-Key", uuid.NewString())
	r.Header.Set("X-Outbox-Event-Type", eventType)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var receipt struct{ ID string }
	if w.Code/100 != 2 || json.Unmarshal(w.Body.Bytes(), &receipt) != nil {
		return w.Code, "", fmt.Errorf("%s: %d %s", eventType, w.Code, w.Body.String())
	}
	return w.Code, receipt.ID, nil
}
`)
	for _, p := range pkgs {
		writeSmokeFunc(&b, p)
		writeReceiverSmoke(&b, p)
	}
	return []byte(b.String())
}

func writeSmokeFunc(b *strings.Builder, p smokePackage) {
	q := func(name string) string { return p.alias + "." + name }
	fmt.Fprintf(b, "\nfunc smoke_%s(ctx context.Context, sqlitePath, pgURL string) error {\n", p.alias)
	if p.m.SQLite {
		fmt.Fprintf(b, `	{
		store, err := sqlitestore.Open(ctx, sqlitePath)
		if err != nil {
			return err
		}
		defer store.Close()
		if err := store.Migrate(ctx); err != nil {
			return err
		}
		if err := metrics_%s(ctx, store, %s(store)); err != nil {
			return fmt.Errorf("sqlite: %%w", err)
		}
	}
`, p.alias, q("NewSQLite"))
	}
	if p.m.Postgres {
		fmt.Fprintf(b, `	{
		store, err := pgstore.Open(ctx, pgURL, 2)
		if err != nil {
			return err
		}
		defer store.Close()
		if err := store.Migrate(ctx); err != nil {
			return err
		}
		if err := metrics_%s(ctx, store, %s(store)); err != nil {
			return fmt.Errorf("postgres: %%w", err)
		}
	}
`, p.alias, q("NewPostgres"))
	}
	fmt.Fprintf(b, "\tif err := receiver_%s(ctx, pgURL); err != nil {\n\t\treturn fmt.Errorf(\"receiver: %%w\", err)\n\t}\n", p.alias)
	b.WriteString("\treturn nil\n}\n")

	fmt.Fprintf(b, "\nfunc metrics_%s(ctx context.Context, store outbox.Store, m *%s) error {\n", p.alias, q("Metrics"))
	b.WriteString("\tfor range 2 {\n\t\tif err := m.Migrate(ctx); err != nil {\n\t\t\treturn err\n\t\t}\n\t}\n")
	b.WriteString("\tat := time.Date(2025, 11, 2, 5, 30, 0, 0, time.UTC)\n")
	for _, mt := range p.m.Metrics {
		var fields []string
		for _, f := range mt.Fields {
			fields = append(fields, fmt.Sprintf("%s: %s", f.GoName, smokeValue(p.alias, f)))
		}
		fmt.Fprintf(b, `	{
		in := %s{UserID: "ada", RecordedAt: at, %s}
		id, err := m.%s(ctx, in)
		if err != nil {
			return fmt.Errorf("save %[4]s: %%w", err)
		}
		if _, err := m.%[5]s.Get(ctx, id); err != nil {
			return fmt.Errorf("get %[4]s: %%w", err)
		}
		if l, err := m.%[5]s.List(ctx, %[6]s{UserID: "ada"}); err != nil || len(l) != 1 {
			return fmt.Errorf("list %[4]s: %%d, %%v", len(l), err)
		}
		if err := deliver(ctx, store); err != nil {
			return fmt.Errorf("deliver %[4]s: %%w", err)
		}
		if e, err := m.%[5]s.Get(ctx, id); err != nil || e.SyncStatus != %[7]s {
			return fmt.Errorf("after delivery, %[4]s is %%q (%%v)", e.SyncStatus, err)
		}
		if c, err := m.%[5]s.CountBySyncStatus(ctx); err != nil || c[%[7]s] != 1 {
			return fmt.Errorf("count %[4]s: %%v, %%v", c, err)
		}
		if err := m.%[5]s.Delete(ctx, id); err != nil {
			return fmt.Errorf("delete %[4]s: %%w", err)
		}
		if _, err := m.%[5]s.Get(ctx, id); !errors.Is(err, %[8]s) {
			return fmt.Errorf("get deleted %[4]s: %%v", err)
		}
		if _, err := m.%[3]s(ctx, in); err != nil {
			return fmt.Errorf("save %[4]s again: %%w", err)
		}
		if err := deliver(ctx, store); err != nil {
			return fmt.Errorf("deliver %[4]s: %%w", err)
		}
	}
`, q(mt.Input), strings.Join(fields, ", "), mt.UseCase, mt.Name, mt.GoName, q("ListFilter"), q("SyncSynced"), q("ErrNotFound"))
	}
	b.WriteString("\treturn nil\n}\n")
}

// smokeValue is a valid value of field f, as a Go expression.
func smokeValue(alias string, f *model.Field) string {
	var v string
	switch f.Type {
	case spec.Int:
		v = "int64(" + bound(f) + ")"
	case spec.Float:
		v = "float64(" + bound(f) + ")"
	case spec.String:
		v = `"x"`
	case spec.Bool:
		v = "true"
	case spec.Time:
		v = "at"
	case spec.Enum:
		v = alias + "." + f.Values[0].GoName
	}
	if f.Required {
		return v
	}
	return "ptr(" + v + ")"
}

func bound(f *model.Field) string {
	switch {
	case f.Min != nil:
		return fmt.Sprint(*f.Min)
	case f.Max != nil:
		return fmt.Sprint(*f.Max)
	}
	return "1"
}

// writeReceiverSmoke writes the smoke test of a package's receiver.
func writeReceiverSmoke(b *strings.Builder, p smokePackage) {
	r, w := p.alias+"_receiver", p.alias+"_wire"
	fmt.Fprintf(b, `
func receiver_%s(ctx context.Context, pgURL string) error {
	store, err := pginbox.Open(ctx, pgURL, 2)
	if err != nil {
		return err
	}
	defer store.Close()
	storage := %s.NewStorage(store)
	for range 2 {
		if err := storage.Migrate(ctx); err != nil {
			return err
		}
	}
	h, err := %[2]s.New(store, storage, inbox.WithoutAuthentication())
	if err != nil {
		return err
	}
	at := time.Date(2025, 11, 2, 5, 30, 0, 0, time.UTC)
`, p.alias, r)
	for _, mt := range p.m.Metrics {
		var fields []string
		for _, f := range mt.Fields {
			fields = append(fields, fmt.Sprintf("%s: %s", f.GoName, smokeValue(p.alias, f)))
		}
		fmt.Fprintf(b, `	{
		id := uuid.New()
		entry := %[1]s{PayloadVersion: %[2]d, ID: id, UserID: "ada", RecordedAt: at, Version: 2, %[3]s}
		if status, _, err := receive(h, %[4]q, %[5]q, entry); err != nil || status != http.StatusCreated {
			return fmt.Errorf("receive %[8]s: %%d, %%w", status, err)
		}
		got, err := storage.%[9]s(ctx, id)
		if err != nil || got.Version != 2 {
			return fmt.Errorf("get %[8]s: %%+v, %%w", got, err)
		}
		if l, err := storage.%[10]s(ctx, "ada", 10); err != nil || len(l) != 1 {
			return fmt.Errorf("list %[8]s: %%d, %%v", len(l), err)
		}
		entry.Version = 1
		if _, backendID, err := receive(h, %[4]q, %[6]q, entry); err != nil || backendID != got.BackendID {
			return fmt.Errorf("receive a stale %[8]s: %%s, %%v", backendID, err)
		}
		deleted := %[11]s.DeletedPayload{PayloadVersion: %[2]d, Metric: %[8]q, ID: id, UserID: "ada", Version: 3, DeletedAt: at}
		if _, _, err := receive(h, %[4]q, %[7]q, deleted); err != nil {
			return fmt.Errorf("receive the deletion of %[8]s: %%w", err)
		}
		if _, err := storage.%[9]s(ctx, id); !errors.Is(err, %[12]s.ErrNotFound) {
			return fmt.Errorf("get deleted %[8]s: %%v", err)
		}
	}
`, w+"."+mt.Payload, mt.Events.PayloadVersion, strings.Join(fields, ", "), mt.Route, mt.Events.Created, mt.Events.Updated, mt.Events.Deleted,
			mt.Name, mt.Recv.Get, mt.Recv.List, w, r)
	}
	b.WriteString("\treturn nil\n}\n")
}
