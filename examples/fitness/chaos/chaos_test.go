package chaos_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/goleak"

	"github.com/outboxgen/outboxgen/examples/fitness/backend"
	"github.com/outboxgen/outboxgen/examples/fitness/demo"
	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// form is how hard one run pushes.
type form struct {
	events   int           // saves written through the use case
	entities int           // distinct entries they update
	writeFor time.Duration // how long the writes are spread over
	kills    int           // SIGKILLs of the processor
}

// forms: the short one runs in CI on every push; the long one produced the
// figures in docs/RELIABILITY.md (OUTBOXGEN_CHAOS=long).
var forms = map[string]map[string]form{
	"short": {
		"sqlite":   {events: 600, entities: 150, writeFor: 6 * time.Second, kills: 6},
		"postgres": {events: 1500, entities: 300, writeFor: 8 * time.Second, kills: 6},
	},
	"long": {
		"sqlite":   {events: 5000, entities: 1000, writeFor: 60 * time.Second, kills: 25},
		"postgres": {events: 20000, entities: 4000, writeFor: 90 * time.Second, kills: 25},
	},
}

func TestChaos(t *testing.T) {
	name := os.Getenv("OUTBOXGEN_CHAOS")
	switch {
	case name == "off" || (name == "" && testing.Short()):
		t.Skip("chaos run skipped (OUTBOXGEN_CHAOS=off or -short)")
	case name == "":
		name = "short"
	case forms[name] == nil:
		t.Fatalf("OUTBOXGEN_CHAOS=%q: use short, long or off", name)
	}
	bin := buildFitness(t)
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			f := forms[name][store]
			h := &harness{t: t, form: f, bin: bin, dir: t.TempDir(), token: "chaos-token"}
			if store == "postgres" {
				h.pg = pgtest.NewServer(t)
			}
			h.run()
		})
	}
}

// buildFitness builds the example's binary, whose processor mode is the
// process this harness kills.
func buildFitness(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fitness")
	out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type harness struct {
	t     *testing.T
	form  form
	bin   string
	dir   string
	token string
	pg    *pgtest.Server

	store *demo.Store
	be    *receivers

	mu      sync.Mutex
	final   map[string]metrics.Weight // the last saved version of each entry
	live    []uuid.UUID               // entries saved and not deleted, for the deletes to pick from
	saves   atomic.Int64
	deletes atomic.Int64
	retried atomic.Int64 // saves retried after a failure (the database restarting)

	kills     int
	restarted bool
	faults    map[string]int
	outage    time.Duration // the gateway outage's length, once it happened
	refusing  time.Duration // how long every event was then refused with 400
	outaged   chan struct{} // closed when the gateway outage is over

	// poison is an entry whose events make the backend drop the
	// connection, as if it crashed on them, while poisoned holds.
	poison   string
	poisoned atomic.Bool
	// killed lists the events found dead before the operator retried them.
	killed []string
}

func (h *harness) run() {
	t := h.t
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	start := time.Now()

	var err error
	h.store, err = demo.OpenStore(ctx, filepath.Join(h.dir, "app.db"), h.databaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer h.store.Close()
	h.be = openReceivers(t, ctx, h.dir, h.token, h.pg != nil)
	h.final = map[string]metrics.Weight{}
	h.faults = map[string]int{}
	h.outaged = make(chan struct{})

	h.savePoison(ctx)
	proc := h.startProcessor()
	var wg sync.WaitGroup
	writing, stopWriting := context.WithCancel(ctx)
	defer stopWriting()
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.write(writing)
	}()
	chaos, stopChaos := context.WithCancel(ctx)
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		h.misbehave(chaos)
	}()

	// Kill the processor at random moments while the writes go on, and
	// restart the database server once, half way.
	gap := h.form.writeFor / time.Duration(h.form.kills)
	for h.kills < h.form.kills {
		pause(ctx, gap/2+time.Duration(rand.Int64N(int64(gap))))
		if h.pg != nil && !h.restarted && h.kills == h.form.kills/2 {
			if err := h.pg.Restart(); err != nil {
				t.Fatalf("restart PostgreSQL: %v", err)
			}
			h.restarted = true
		}
		_ = proc.Process.Signal(syscall.SIGKILL)
		_ = proc.Wait()
		h.kills++
		proc = h.startProcessor()
	}
	wg.Wait()
	select {
	case <-h.outaged: // the whole outage, however short the writes
	case <-ctx.Done():
	}
	stopChaos()
	<-faultsDone
	h.setFaults(backend.Faults{})
	if !h.be.IsUp() {
		if err := h.be.Up(); err != nil {
			t.Fatal(err)
		}
	}
	wrote := time.Since(start)

	// The poison entry's events end dead; the others are delivered.
	h.waitForThePoisonToDie(ctx)
	h.operatorRetriesThePoison(ctx)
	h.waitForDrain(ctx)
	_ = proc.Process.Signal(syscall.SIGTERM)
	_ = proc.Wait()
	h.check(wrote, time.Since(start))
}

// savePoison saves the poison entry twice (created, then updated) and
// poisons the backend against it until the operator steps in.
func (h *harness) savePoison(ctx context.Context) {
	day := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	for _, kg := range []float64{66.6, 66.7} {
		saved, err := h.store.Metrics.Weight.Save(ctx, metrics.WeightInput{UserID: "poison", RecordedAt: day, Kg: kg})
		if err != nil {
			h.t.Fatal(err)
		}
		h.record(saved)
		h.poison = saved.ID.String()
	}
	h.poisoned.Store(true)
	h.setFaults(backend.Faults{})
}

// setFaults makes the backend misbehave as f says, and drop the connection
// on the poison entry's events while it is poisoned.
func (h *harness) setFaults(f backend.Faults) {
	if h.poisoned.Load() {
		f.DropEntity = h.poison
	}
	h.be.SetFaults(f)
}

// operatorRetriesThePoison checks that exactly the poison entry's events
// are dead, then does what an operator would once the backend is fixed:
// retries them.
func (h *harness) operatorRetriesThePoison(ctx context.Context) {
	t := h.t
	dead, err := h.store.Outbox.List(ctx, outbox.Filter{Status: outbox.StatusDead, Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range dead {
		h.killed = append(h.killed, ev.AggregateID)
		if ev.AggregateID != h.poison {
			t.Errorf("event %s of entry %s is dead, and only the poison entry's should be: %s", ev.ID, ev.AggregateID, ev.LastError)
		}
	}
	if len(dead) != 2 {
		t.Errorf("%d events dead; want the poison entry's two", len(dead))
	}
	h.poisoned.Store(false)
	h.setFaults(backend.Faults{})
	for _, ev := range dead {
		if err := h.store.Outbox.Retry(ctx, ev.ID); err != nil {
			t.Fatalf("retry %s: %v", ev.ID, err)
		}
	}
}

func (h *harness) databaseURL() string {
	if h.pg == nil {
		return ""
	}
	return h.pg.URL()
}

// startProcessor runs the example's processor as a process of its own.
func (h *harness) startProcessor() *exec.Cmd {
	// Faults come in phases of 0.5 to 1.5 s; five attempts spread over
	// 1+2+4+5 s ride through several of them, as the seed's schedule (30 s
	// to 8 min) rides through real outages. Events then die only if they
	// should: never, here.
	args := []string{"processor", "--backend", h.be.url, "--token", h.token, "--lease", "3s", "--poll", "500ms",
		"--backoff-base", "1s", "--backoff-max", "5s"}
	if h.pg != nil {
		args = append(args, "--database-url", h.pg.URL())
	} else {
		args = append(args, "--db", filepath.Join(h.dir, "app.db"))
	}
	cmd := exec.Command(h.bin, args...)
	log, err := os.OpenFile(filepath.Join(h.dir, "processor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	return cmd
}

// write saves the form's events through the generated use case, spread
// over writeFor, from four writers; one change in twenty deletes an entry
// instead, leaving a tombstone. A change that fails (the database is
// restarting) is retried, as an app would.
func (h *harness) write(ctx context.Context) {
	const writers = 4
	per := h.form.events / writers
	interval := h.form.writeFor / time.Duration(per)
	day := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if rand.IntN(20) == 0 && h.deleteOne(ctx) {
					pause(ctx, interval)
					continue
				}
				n := rand.IntN(h.form.entities)
				in := metrics.WeightInput{
					UserID:     fmt.Sprintf("user-%03d", n%50),
					RecordedAt: day.AddDate(0, 0, n/50),
					Kg:         float64(40+rand.IntN(120)) + float64(w*per+i)/1e6,
				}
				for {
					saved, err := h.store.Metrics.Weight.Save(ctx, in)
					if err == nil {
						h.record(saved)
						break
					}
					if ctx.Err() != nil {
						return
					}
					h.retried.Add(1)
					pause(ctx, 100*time.Millisecond)
				}
				pause(ctx, interval)
			}
		}()
	}
	wg.Wait()
}

func (h *harness) record(w metrics.Weight) {
	h.saves.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, seen := h.final[w.ID.String()]; !seen && w.UserID != "poison" {
		h.live = append(h.live, w.ID)
	}
	if w.Version > h.final[w.ID.String()].Version {
		h.final[w.ID.String()] = w
	}
}

// deleteOne deletes an entry saved earlier, if there is one, retrying
// while the database restarts. Another writer may be saving into its day
// meanwhile: that save updates the entry if it comes first, or else starts
// a new entry.
func (h *harness) deleteOne(ctx context.Context) bool {
	h.mu.Lock()
	if len(h.live) == 0 {
		h.mu.Unlock()
		return false
	}
	i := rand.IntN(len(h.live))
	id := h.live[i]
	h.live[i] = h.live[len(h.live)-1]
	h.live = h.live[:len(h.live)-1]
	h.mu.Unlock()
	for {
		err := h.store.Metrics.Weight.Delete(ctx, id)
		if err == nil {
			h.deletes.Add(1)
			return true
		}
		if ctx.Err() != nil || errors.Is(err, metrics.ErrNotFound) {
			return false
		}
		h.retried.Add(1)
		pause(ctx, 100*time.Millisecond)
	}
}

// retrySchedule is how long the processor's retries of one event last:
// waits of 1, 2, 4 and 5 s between five attempts (see startProcessor).
const retrySchedule = 12 * time.Second

// misbehave cycles the backend through its faults until ctx ends, and
// once, a third of the way in, has two outages in a row, each longer than
// the whole retry schedule: a gateway in front of a backend that is down,
// then a deploy that refuses every event.
func (h *harness) misbehave(ctx context.Context) {
	phases := []struct {
		name  string
		apply func()
	}{
		{"healthy", func() { h.setFaults(backend.Faults{}) }},
		{"refusing connections", h.be.Down},
		// Shares chosen so that five attempts across several phases all
		// failing stays rarer than one in a million: an event that dies here
		// is a bug, not bad luck.
		{"5xx", func() { h.setFaults(backend.Faults{FailShare: 0.1, FailStatus: 503}) }},
		{"429 + Retry-After", func() { h.setFaults(backend.Faults{FailShare: 0.1, FailStatus: 429, RetryAfter: time.Second}) }},
		{"hanging past the client's timeout", func() {
			h.setFaults(backend.Faults{SlowShare: 0.15, SlowBy: demo.ClientTimeout + 500*time.Millisecond})
		}},
		{"409 in progress", func() { h.setFaults(backend.Faults{InProgressShare: 0.2}) }},
	}
	outageAt := time.Now().Add(h.form.writeFor / 3)
	for ctx.Err() == nil {
		if !h.be.IsUp() {
			_ = h.be.Up()
		}
		if h.outage == 0 && time.Now().After(outageAt) {
			h.gatewayOutage(ctx)
			continue
		}
		p := phases[rand.IntN(len(phases))]
		h.setFaults(backend.Faults{})
		p.apply()
		h.faults[p.name]++
		pause(ctx, time.Duration(500+rand.IntN(1000))*time.Millisecond)
	}
}

// gatewayOutage answers 502, then 503, to every request for a quarter
// longer than the whole retry schedule, then 400 to every event (a deploy
// with a broken schema) as long again: without the evidence rule every
// event tried meanwhile would die.
func (h *harness) gatewayOutage(ctx context.Context) {
	start := time.Now()
	half := retrySchedule * 5 / 8
	h.setFaults(backend.Faults{FailShare: 1, FailStatus: 502})
	pause(ctx, half)
	h.setFaults(backend.Faults{FailShare: 1, FailStatus: 503})
	pause(ctx, half)
	h.outage = time.Since(start)
	h.faults["gateway 502/503 outage"]++
	h.setFaults(backend.Faults{FailShare: 1, FailStatus: 400})
	pause(ctx, 2*half)
	h.refusing = time.Since(start) - h.outage
	h.faults["400 to everything"]++
	close(h.outaged)
}

// waitForThePoisonToDie waits until the outbox holds nothing unfinished.
// Whenever what is left is the poison entry's alone, it saves another
// entry, as the app would sooner or later: a poison event dies only on
// evidence against it, and once the writes are over, a backend that drops
// the poison's requests, with nothing else delivered, looks just like one
// that drops every request. Each delivery after its failures is that
// evidence.
func (h *harness) waitForThePoisonToDie(ctx context.Context) {
	deadline := time.Now().Add(5 * time.Minute)
	day := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for nudge := 0; ; {
		left, err := h.unfinished(ctx)
		switch {
		case err == nil && len(left) == 0:
			return
		case time.Now().After(deadline):
			h.t.Fatalf("the poison entry's events did not end dead in 5 minutes: %d unfinished events left, %v", len(left), err)
		case err == nil && !slices.ContainsFunc(left, func(ev *outbox.Event) bool { return ev.AggregateID != h.poison }):
			saved, err := h.store.Metrics.Weight.Save(ctx, metrics.WeightInput{UserID: "nudge", RecordedAt: day.AddDate(0, 0, nudge), Kg: 70})
			if err != nil {
				h.t.Fatal(err)
			}
			h.record(saved)
			nudge++
		}
		pause(ctx, 200*time.Millisecond)
	}
}

// unfinished lists the events not yet delivered, dead or discarded.
func (h *harness) unfinished(ctx context.Context) ([]*outbox.Event, error) {
	var all []*outbox.Event
	for _, status := range []outbox.Status{outbox.StatusPending, outbox.StatusProcessing, outbox.StatusFailed} {
		evs, err := h.store.Outbox.List(ctx, outbox.Filter{Status: status, Limit: 1 << 20})
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
	}
	return all, nil
}

func (h *harness) waitForDrain(ctx context.Context) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st, err := h.store.Outbox.Stats(ctx)
		if err == nil && st.Counts[outbox.StatusPending]+st.Counts[outbox.StatusProcessing]+st.Counts[outbox.StatusFailed] == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the outbox did not drain in 5 minutes: %v %v", st.Counts, err)
		}
		pause(ctx, 200*time.Millisecond)
	}
}

// check counts: every event the app wrote reached the backend exactly once
// as far as its records go, every entry's final value is the backend's,
// every entry is synced, nothing is dead.
func (h *harness) check(wrote, total time.Duration) {
	t := h.t
	ctx := t.Context()
	events, err := h.store.Outbox.List(ctx, outbox.Filter{Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	received, err := h.be.Received()
	if err != nil {
		t.Fatal(err)
	}
	var lost, dead, duplicates int
	for _, ev := range events {
		if ev.Status == outbox.StatusDead {
			dead++
			t.Errorf("event %s is dead: %s", ev.ID, ev.LastError)
		}
		if _, ok := received[ev.ID.String()]; !ok {
			lost++
		}
	}
	for _, dup := range received {
		duplicates += dup
	}
	if len(received) != len(events) {
		t.Errorf("the backend received %d distinct events; the app wrote %d", len(received), len(events))
	}
	if changes := h.saves.Load() + h.deletes.Load(); int64(len(events)) < changes {
		t.Errorf("%d saves and deletes succeeded but the outbox holds %d events", changes, len(events))
	}

	// Row by row, the device's entries (deleted ones included) and the
	// backend's: the same entries, versions, tombstones, values and ids.
	device := h.deviceRows()
	records, err := h.be.Records("weight")
	if err != nil {
		t.Fatal(err)
	}
	wrong, tombstones := 0, 0
	mismatch := func(id, format string, args ...any) {
		wrong++
		if wrong <= 5 {
			t.Errorf("entry %s: "+format, append([]any{id}, args...)...)
		}
	}
	for id, d := range device {
		r, ok := records[id]
		var values struct {
			Kg         float64
			RecordedAt time.Time `json:"recorded_at"`
		}
		switch {
		case !ok:
			mismatch(id, "on the device (version %d), not at the backend", d.version)
		case r.Version != d.version || r.Deleted != d.deleted || r.UserID != d.userID:
			mismatch(id, "the device's version %d (deleted %v, user %s); the backend's %d (deleted %v, user %s)",
				d.version, d.deleted, d.userID, r.Version, r.Deleted, r.UserID)
		case d.deleted:
			tombstones++
		case json.Unmarshal(r.Payload, &values) != nil || values.Kg != d.kg || !values.RecordedAt.Equal(d.recordedAt):
			mismatch(id, "the device's %v kg at %s; the backend's %s", d.kg, d.recordedAt, r.Payload)
		case r.BackendID != d.backendID:
			mismatch(id, "the device stores backend id %q; the backend's is %q", d.backendID, r.BackendID)
		}
	}
	if len(records) != len(device) {
		t.Errorf("the backend holds %d weight entries, the device %d", len(records), len(device))
	}
	// Every save that returned is on the device, at its version or later.
	for id, w := range h.final {
		if d, ok := device[id]; !ok || d.version < w.Version {
			mismatch(id, "saved at version %d; the device has version %d", w.Version, d.version)
		}
	}
	counts, err := h.store.Metrics.Weight.CountBySyncStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if live := int64(len(device) - tombstones); counts[metrics.SyncSynced] != live || counts[metrics.SyncPending] != 0 {
		t.Errorf("sync status %v for %d entries; want every one synced", counts, live)
	}
	if lost > 0 || wrong > 0 {
		t.Errorf("%d events lost, %d entries wrong at the backend", lost, wrong)
	}
	if h.outage < retrySchedule || h.refusing < retrySchedule {
		t.Errorf("the gateway outage lasted %s and the refusals %s, not both longer than the retry schedule (%s)", h.outage, h.refusing, retrySchedule)
	}
	restart := "no"
	if h.restarted {
		restart = "yes"
	}
	t.Logf("chaos figures: %s; events written %d (saves %d, deletes %d, %d retried while the database restarted), entries %d (%d deleted), "+
		"processor kills survived %d, database restarted %s, backend phases %v, gateway outage %s, 400 to everything %s, delivered %d, duplicates absorbed %d, "+
		"dead before the operator's retry %d (the poison entry's), dead at the end %d, lost %d, entries differing from the device %d; writes took %s, drained after %s",
		h.be.describe(), len(events), h.saves.Load(), h.deletes.Load(), h.retried.Load(), len(device), tombstones, h.kills, restart, h.faults,
		h.outage.Round(time.Second), h.refusing.Round(time.Second), len(received), duplicates,
		len(h.killed), dead, lost, wrong, wrote.Round(time.Second), total.Round(time.Second))
}

// deviceRow is an entry as the device's database holds it.
type deviceRow struct {
	userID, backendID string
	version           int64
	deleted           bool
	kg                float64
	recordedAt        time.Time
}

// deviceRows reads every weight entry of the app's database, deleted ones
// included, by id.
func (h *harness) deviceRows() map[string]deviceRow {
	t := h.t
	var db *sql.DB
	switch s := h.store.Outbox.(type) {
	case interface{ DB() *sql.DB }:
		db = s.DB()
	case interface{ Pool() *pgxpool.Pool }:
		db = stdlib.OpenDBFromPool(s.Pool())
		defer db.Close()
	default:
		t.Fatalf("cannot read the device's database through %T", s)
	}
	rows, err := db.QueryContext(t.Context(),
		`SELECT id, user_id, version, deleted_at IS NOT NULL, kg, recorded_at, coalesce(backend_id, '') FROM metric_weight`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]deviceRow{}
	for rows.Next() {
		var id string
		var d deviceRow
		var recorded any // microseconds on SQLite, a timestamptz on PostgreSQL
		if err := rows.Scan(&id, &d.userID, &d.version, &d.deleted, &d.kg, &recorded, &d.backendID); err != nil {
			t.Fatal(err)
		}
		switch r := recorded.(type) {
		case int64:
			d.recordedAt = time.UnixMicro(r)
		case time.Time:
			d.recordedAt = r
		default:
			t.Fatalf("recorded_at of %s is %T", id, recorded)
		}
		out[id] = d
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// pause waits d or until ctx ends. The harness paces itself in real time:
// these are the moments chaos strikes, not synchronisation.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
