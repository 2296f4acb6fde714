package generator_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outboxgen/outboxgen/generator"
	"github.com/outboxgen/outboxgen/generator/spec"
)

// zonesSpec has windows in zones whose offsets are not whole hours: Lord
// Howe Island moves its clock by 30 minutes (02:00 +11 → 01:30 +10:30 on
// 2025-04-06, i.e. 15:00Z on the 5th), Kolkata is UTC+5:30.
const zonesSpec = `version: 1
package: {name: zoned, path: zoned}
dialects: [sqlite]
metrics:
  lh_minute:
    fields: {v: {type: int}}
    dedupe: {window: minute, time_zone: Australia/Lord_Howe}
  lh_hour:
    fields: {v: {type: int}}
    dedupe: {window: hour, time_zone: Australia/Lord_Howe}
  kolkata_hour:
    fields: {v: {type: int}}
    dedupe: {window: hour, time_zone: Asia/Kolkata}
`

// zonesProgram saves at pairs of instants and prints how many entries each
// pair made.
const zonesProgram = `package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"example.com/zones/zoned"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

func main() {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, os.Args[1])
	check(err)
	check(store.Migrate(ctx))
	m := zoned.NewSQLite(store)
	check(m.Migrate(ctx))
	at := func(s string) time.Time { t, err := time.Parse(time.RFC3339, s); check(err); return t }
	pair := func(name string, save func(user string, t time.Time) error, list func(user string) int, a, b string) {
		check(save(name, at(a)))
		check(save(name, at(b)))
		fmt.Printf("%s: %d\n", name, list(name))
	}
	minute := func(user string, t time.Time) error { _, err := m.SaveLhMinute(ctx, zoned.LhMinuteInput{UserID: user, RecordedAt: t}); return err }
	minutes := func(user string) int { l, err := m.LhMinute.List(ctx, zoned.ListFilter{UserID: user}); check(err); return len(l) }
	hour := func(user string, t time.Time) error { _, err := m.SaveLhHour(ctx, zoned.LhHourInput{UserID: user, RecordedAt: t}); return err }
	hours := func(user string) int { l, err := m.LhHour.List(ctx, zoned.ListFilter{UserID: user}); check(err); return len(l) }
	kolkata := func(user string, t time.Time) error { _, err := m.SaveKolkataHour(ctx, zoned.KolkataHourInput{UserID: user, RecordedAt: t}); return err }
	kolkatas := func(user string) int { l, err := m.KolkataHour.List(ctx, zoned.ListFilter{UserID: user}); check(err); return len(l) }

	pair("lh-minute-repeated", minute, minutes, "2025-04-05T14:40:00Z", "2025-04-05T15:10:00Z") // 01:40 twice
	pair("lh-minute-same", minute, minutes, "2025-04-05T14:40:10Z", "2025-04-05T14:40:50Z")
	pair("lh-hour-repeated", hour, hours, "2025-04-05T14:10:00Z", "2025-04-05T15:10:00Z") // 01:10 +11, 01:40 +10:30
	pair("lh-hour-same", hour, hours, "2025-04-05T14:10:00Z", "2025-04-05T14:50:00Z")     // 01:10, 01:50 +11
	pair("kolkata-hour-split", kolkata, kolkatas, "2026-03-14T10:20:00Z", "2026-03-14T10:40:00Z") // 15:50, 16:10
	pair("kolkata-hour-same", kolkata, kolkatas, "2026-03-14T10:40:00Z", "2026-03-14T11:20:00Z")  // 16:10, 16:50
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// Windows in zones whose offsets are not whole hours count real time:
// when Lord Howe's clock shows 01:40 twice, those are two minutes and two
// hours; an hour in Kolkata runs from :30 to :30 UTC.
func TestWindowsInZonesOfHalfHours(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	writeFiles(t, mod, generator.Files{
		"go.mod":       []byte("module example.com/zones\n\ngo 1.26\n\nrequire github.com/outboxgen/outboxgen v0.0.0\n\nreplace github.com/outboxgen/outboxgen => " + root + "\n"),
		"metrics.yaml": []byte(zonesSpec),
		"main.go":      []byte(zonesProgram),
	})
	s, err := spec.Load(filepath.Join(mod, "metrics.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := generator.Generate(s, generator.Options{ImportPath: "example.com/zones/zoned"})
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, mod, files)
	goCmd(t, mod, "mod", "tidy")
	goCmd(t, mod, "build", "-o", "zones.bin", ".")
	out, err := exec.Command(filepath.Join(mod, "zones.bin"), filepath.Join(mod, "zones.db")).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "lh-minute-repeated: 2\nlh-minute-same: 1\nlh-hour-repeated: 2\nlh-hour-same: 1\nkolkata-hour-split: 2\nkolkata-hour-same: 1\n"
	if string(out) != want {
		t.Errorf("entries per pair of saves:\n%s\nwant:\n%s", out, strings.TrimSpace(want))
	}
}
