package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"runtime/pprof"
	"testing"
	"time"
)

func TestZZSQLiteDrain(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "o.db")
	const n = 50000
	if err := fillSQLite(ctx, path, n); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("ZZT") != "" {
		db, _ := sql.Open("sqlite", path)
		if _, err := db.Exec("DROP TRIGGER outbox_completed_add"); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	cfg := sqliteConfigs[os.Getenv("ZZ")]
	f, _ := os.Create("/tmp/zz-" + os.Getenv("ZZ") + ".pprof")
	pprof.StartCPUProfile(f)
	res, err := drainSQLite(ctx, path, n, cfg, 60*time.Second)
	pprof.StopCPUProfile()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %.0f events/s", os.Getenv("ZZ"), res.Rate())
}
