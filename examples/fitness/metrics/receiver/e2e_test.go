package receiver_test

// Tests of the receiver generated from the repository's metrics.yaml, with
// the generated sending side delivering to it through a real processor and
// httpsender, on a real PostgreSQL. This file is written by hand: the
// generator leaves files without its header alone.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
	"github.com/outboxgen/outboxgen/examples/fitness/metrics/receiver"
	"github.com/outboxgen/outboxgen/examples/fitness/metrics/wire"
	"github.com/outboxgen/outboxgen/internal/openapitest"
	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/httpsender"
	"github.com/outboxgen/outboxgen/runtime/inbox"
	"github.com/outboxgen/outboxgen/runtime/inbox/pginbox"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A server that imports the receiver links no SQLite, and the receiver
// does not import the sending side's package (which does).
func TestServerLinksNoSQLite(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "sqlite") || dep == "github.com/outboxgen/outboxgen/examples/fitness/metrics" {
			t.Errorf("the receiver depends on %s", dep)
		}
	}
}

// world is a receiver with its default storage on PostgreSQL, served
// behind two recorders that check traffic against its OpenAPI document:
// one for the sending side (requests and answers), one for the tests'
// own probes, some of which break the document on purpose (answers only).
type world struct {
	store   *pginbox.Store
	storage *receiver.Storage
	sender  *openapitest.Recorder
	probes  *openapitest.Recorder
	url     string // the sender's
	probe   string // the probes'
	hold    *holding
}

// holding makes the receiver hold a height change of 123 cm while it is
// applied, to show what a repeat meanwhile gets.
type holding struct {
	*receiver.Storage
	entered, release chan struct{}
}

func (h holding) OnHeight(ctx context.Context, tx pgx.Tx, c receiver.HeightChange) error {
	if c.Entry.Cm == 123 {
		h.entered <- struct{}{}
		<-h.release
	}
	return h.Storage.OnHeight(ctx, tx, c)
}

const token = "receiver-test-token"

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := t.Context()
	store, err := pginbox.Open(ctx, pgtest.NewDatabase(t), 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	w := &world{store: store, storage: receiver.NewStorage(store)}
	if err := w.storage.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	w.hold = &holding{Storage: w.storage, entered: make(chan struct{}), release: make(chan struct{})}
	auth, err := inbox.BearerToken(token, "processor")
	if err != nil {
		t.Fatal(err)
	}
	h, err := receiver.New[pgx.Tx](store, w.hold,
		inbox.WithAuthenticator(auth),
		inbox.WithAuthorizer(func(_ context.Context, a inbox.Access) error {
			if a.UserID == "mallory" {
				return inbox.ErrForbidden
			}
			return nil
		}),
		inbox.WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil))))
	if err != nil {
		t.Fatal(err)
	}
	doc := openapitest.Document(t, receiver.OpenAPI())
	w.sender, w.probes = doc.Wrap(h), doc.Wrap(h)
	w.probes.ResponsesOnly()
	for _, s := range []struct {
		rec *openapitest.Recorder
		url *string
	}{{w.sender, &w.url}, {w.probes, &w.probe}} {
		srv := httptest.NewServer(s.rec)
		t.Cleanup(srv.Close)
		*s.url = srv.URL
	}
	return w
}

// checkContract fails t for every exchange that broke the document.
func (w *world) checkContract(t *testing.T) {
	t.Helper()
	for name, rec := range map[string]*openapitest.Recorder{"sending side": w.sender, "probes": w.probes} {
		checked, failures := rec.Result()
		if checked == 0 {
			t.Errorf("%s: no exchange checked against the OpenAPI document", name)
		}
		for _, f := range failures {
			t.Errorf("%s: %v", name, f)
		}
		t.Logf("%s: %d exchanges checked against the OpenAPI document", name, checked)
	}
}

// deliver runs a processor until the outbox is drained, sending up to
// sendBatch events per call.
func deliver(t *testing.T, store outbox.Store, sender *httpsender.Sender, sendBatch int) {
	t.Helper()
	p, err := outbox.NewProcessor(store, sender, outbox.Config{
		SendBatch:          sendBatch,
		Lease:              20 * time.Second,
		PollInterval:       20 * time.Millisecond,
		Backoff:            outbox.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond},
		UnavailableBackoff: outbox.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond},
		Logger:             slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := store.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if outboxtest.Unfinished(st) == 0 {
			if st.Counts[outbox.StatusDead] > 0 {
				t.Fatalf("%d events dead", st.Counts[outbox.StatusDead])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outbox did not drain: %v", st.Counts)
		}
		time.Sleep(10 * time.Millisecond) // polling the outbox's state, not synchronising
	}
}

func ptr[T any](v T) *T { return &v }

// The sending side's entries reach the receiver through a processor, one
// event per request and then in batches: every value arrives, deletions
// remove entries, every entry is synced with the receiver's id for it, and
// every request the sender makes and every answer the receiver gives
// follow the OpenAPI document.
func TestEndToEndAndContract(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	app, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if err := app.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	m := metrics.NewSQLite(app)
	if err := m.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	single, err := httpsender.New(w.url, metrics.Routes(), httpsender.WithTokenSource(httpsender.StaticToken(token)))
	if err != nil {
		t.Fatal(err)
	}
	defer single.CloseIdleConnections()
	batch, err := httpsender.New(w.url, metrics.Routes(), httpsender.WithTokenSource(httpsender.StaticToken(token)), httpsender.WithBatchRoute(wire.BatchRoute))
	if err != nil {
		t.Fatal(err)
	}
	defer batch.CloseIdleConnections()

	day := time.Date(2026, 5, 1, 7, 0, 0, 0, time.UTC)
	var deleted []uuid.UUID
	log := func(round int) {
		for u, user := range []string{"ada", "bob"} {
			for d := range 3 {
				at := day.AddDate(0, 0, 3*round+d)
				bed := at.Add(-8 * time.Hour)
				saves := []func() (uuid.UUID, error){
					func() (uuid.UUID, error) {
						return m.SaveSteps(ctx, metrics.StepsInput{UserID: user, RecordedAt: at, Count: int64(5000 + d)})
					},
					func() (uuid.UUID, error) {
						return m.SaveHeartRate(ctx, metrics.HeartRateInput{UserID: user, RecordedAt: at, Bpm: int64(60 + u)})
					},
					func() (uuid.UUID, error) {
						return m.SaveWeight(ctx, metrics.WeightInput{UserID: user, RecordedAt: at, Kg: 70.25 + float64(d)})
					},
					func() (uuid.UUID, error) {
						return m.SaveHeight(ctx, metrics.HeightInput{UserID: user, RecordedAt: at, Cm: 170.5})
					},
					func() (uuid.UUID, error) {
						return m.SaveMood(ctx, metrics.MoodInput{UserID: user, RecordedAt: at, Score: 7, Label: ptr(metrics.MoodLabelGood), Note: ptr("sunny, \"quoted\" ✓")})
					},
					func() (uuid.UUID, error) {
						return m.SaveBodyFat(ctx, metrics.BodyFatInput{UserID: user, RecordedAt: at, Percent: 18.5})
					},
					func() (uuid.UUID, error) {
						return m.SaveSleep(ctx, metrics.SleepInput{UserID: user, RecordedAt: at, Hours: 7.5, Quality: ptr(metrics.SleepQualityGood), WentToBed: &bed})
					},
					func() (uuid.UUID, error) {
						return m.SaveWaterIntake(ctx, metrics.WaterIntakeInput{UserID: user, RecordedAt: at, Ml: 250})
					},
				}
				for _, save := range saves {
					if _, err := save(); err != nil {
						t.Fatal(err)
					}
				}
				// An update of the day's weight, and a deleted mood.
				if _, err := m.SaveWeight(ctx, metrics.WeightInput{UserID: user, RecordedAt: at.Add(time.Hour), Kg: 80}); err != nil {
					t.Fatal(err)
				}
				id, err := m.SaveMood(ctx, metrics.MoodInput{UserID: user, RecordedAt: at.Add(3 * time.Hour), Score: 2})
				if err != nil {
					t.Fatal(err)
				}
				if d == 1 {
					if err := m.Mood.Delete(ctx, id); err != nil {
						t.Fatal(err)
					}
					deleted = append(deleted, id)
				}
			}
		}
	}
	log(0)
	deliver(t, app, single, 1)
	log(1)
	deliver(t, app, batch, 25)

	for _, user := range []string{"ada", "bob"} {
		weights, err := m.Weight.List(ctx, metrics.ListFilter{UserID: user})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range weights {
			got, err := w.storage.GetWeight(ctx, e.ID)
			if err != nil || got.Kg != e.Kg || got.Version != e.Version || !got.RecordedAt.Equal(e.RecordedAt) {
				t.Errorf("weight %s: the receiver has %+v (%v); the app %+v", e.ID, got, err, e)
			}
			if e.SyncStatus != metrics.SyncSynced || e.BackendID == nil || *e.BackendID != got.BackendID {
				t.Errorf("weight %s: %s with backend id %v; the receiver's is %s", e.ID, e.SyncStatus, e.BackendID, got.BackendID)
			}
		}
		moods, err := m.Mood.List(ctx, metrics.ListFilter{UserID: user})
		if err != nil {
			t.Fatal(err)
		}
		received, err := w.storage.ListMood(ctx, user, 100)
		if err != nil || len(received) != len(moods) {
			t.Fatalf("%s: %d moods received (%v), the app holds %d", user, len(received), err, len(moods))
		}
		for _, e := range moods {
			got, err := w.storage.GetMood(ctx, e.ID)
			if err != nil || got.Score != e.Score || !equal(got.Label, e.Label) || !equal(got.Note, e.Note) {
				t.Errorf("mood %s: the receiver has %+v (%v); the app %+v", e.ID, got, err, e)
			}
		}
		sleeps, err := m.Sleep.List(ctx, metrics.ListFilter{UserID: user})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range sleeps {
			got, err := w.storage.GetSleep(ctx, e.ID)
			if err != nil || got.Hours != e.Hours || !equal(got.Quality, e.Quality) || got.WentToBed == nil || !got.WentToBed.Equal(*e.WentToBed) {
				t.Errorf("sleep %s: the receiver has %+v (%v); the app %+v", e.ID, got, err, e)
			}
		}
	}
	for _, id := range deleted {
		if _, err := w.storage.GetMood(ctx, id); !errors.Is(err, receiver.ErrNotFound) {
			t.Errorf("deleted mood %s: %v, want ErrNotFound", id, err)
		}
	}

	w.probeAnswers(t)
	w.checkContract(t)
}

func equal[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// probeAnswers makes the receiver give every answer the document lists
// that a well-behaved sender never gets, so that those follow it too.
func (w *world) probeAnswers(t *testing.T) {
	t.Helper()
	post := func(path, key, eventType, contentType, body string, header ...string) (int, http.Header) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, w.probe+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+token)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		if eventType != "" {
			req.Header.Set("X-Outbox-Event-Type", eventType)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	height := func(user string, cm float64) string {
		b, _ := json.Marshal(wire.HeightPayload{PayloadVersion: 1, ID: uuid.New(), UserID: user, RecordedAt: time.Now().UTC(), Cm: cm, Version: 1})
		return string(b)
	}
	key := uuid.NewString()
	body := height("ada", 180)
	for _, c := range []struct {
		name                                    string
		path, key, eventType, contentType, body string
		header                                  []string
		want                                    int
	}{
		{"first", "/v1/height", key, wire.EventHeightCreated, "application/json", body, nil, 201},
		{"repeat", "/v1/height", key, wire.EventHeightCreated, "application/json", body, nil, 201},
		{"key reused", "/v1/height", key, wire.EventHeightCreated, "application/json", height("ada", 181), nil, 422},
		{"invalid", "/v1/height", uuid.NewString(), wire.EventHeightCreated, "application/json", height("ada", 999), nil, 422},
		{"no key", "/v1/height", "", wire.EventHeightCreated, "application/json", body, nil, 400},
		{"another route's type", "/v1/height", uuid.NewString(), wire.EventWeightCreated, "application/json", body, nil, 400},
		{"not a batch", "/v1/batch", "", "", "application/json", body, nil, 400},
		{"wrong token", "/v1/height", uuid.NewString(), wire.EventHeightCreated, "application/json", body, []string{"Authorization", "Bearer nope"}, 401},
		{"another user's", "/v1/height", uuid.NewString(), wire.EventHeightCreated, "application/json", height("mallory", 170), nil, 403},
		{"too large", "/v1/height", uuid.NewString(), wire.EventHeightCreated, "application/json", strings.Repeat(" ", inbox.DefaultBodyLimit+1), nil, 413},
		{"not JSON", "/v1/height", uuid.NewString(), wire.EventHeightCreated, "text/plain", body, nil, 415},
	} {
		if got, _ := post(c.path, c.key, c.eventType, c.contentType, c.body, c.header...); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}

	held := uuid.NewString()
	body = height("ada", 123)
	first := make(chan int, 1)
	go func() {
		status, _ := post("/v1/height", held, wire.EventHeightCreated, "application/json", body)
		first <- status
	}()
	<-w.hold.entered
	if got, h := post("/v1/height", held, wire.EventHeightCreated, "application/json", body); got != http.StatusConflict || h.Get("Retry-After") == "" {
		t.Errorf("a repeat in progress: %d (Retry-After %q), want 409", got, h.Get("Retry-After"))
	}
	close(w.hold.release)
	if got := <-first; got != http.StatusCreated {
		t.Errorf("the held request: %d", got)
	}
	http.DefaultClient.CloseIdleConnections()
}
