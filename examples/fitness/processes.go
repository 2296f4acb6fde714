package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/outboxgen/outboxgen/examples/fitness/backend"
	"github.com/outboxgen/outboxgen/examples/fitness/demo"
	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/httpsender"
)

// runApp logs an entry every second for two users, until stopped.
func runApp(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("fitness app", flag.ContinueOnError)
	var sf storeFlags
	sf.register(fs, "fitness.db")
	every := fs.Duration("every", time.Second, "time between two entries")
	if err := fs.Parse(args); err != nil {
		return err
	}
	store, err := demo.OpenStore(ctx, sf.db, sf.databaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Fprintf(out, "app: logging an entry every %s to %s; Ctrl-C to stop\n", *every, store.Where)
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for n := 0; ; n++ {
		user := []string{"ada", "bob"}[n%2]
		in := metrics.WeightInput{UserID: user, RecordedAt: time.Now().AddDate(0, 0, -n/2), Kg: 60 + rand.Float64()*30}
		id, err := saveRetrying(ctx, out, func() (uuid.UUID, error) { return store.Metrics.SaveWeight(ctx, in) })
		if err != nil {
			return nil // stopped
		}
		fmt.Fprintf(out, "app: saved weight %s for %s\n", id, user)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// saveRetrying calls save until it succeeds, reporting each failure and
// waiting a little longer after each (up to 5 s): a database that restarts
// fails the saves meanwhile, and the app goes on once it is back. Nothing
// is lost: a failed save wrote nothing, neither entry nor event. It
// returns an error only when ctx ends.
func saveRetrying(ctx context.Context, out io.Writer, save func() (uuid.UUID, error)) (uuid.UUID, error) {
	wait := 100 * time.Millisecond
	for {
		id, err := save()
		if err == nil {
			return id, nil
		}
		if ctx.Err() != nil {
			return uuid.Nil, ctx.Err()
		}
		fmt.Fprintf(out, "app: the save failed (%v); trying again in %s\n", err, wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return uuid.Nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// runProcessor delivers the outbox to the backend until stopped.
func runProcessor(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("fitness processor", flag.ContinueOnError)
	var sf storeFlags
	sf.register(fs, "fitness.db")
	backendURL := fs.String("backend", "http://127.0.0.1:8080", "the backend's base URL")
	token := fs.String("token", "demo-token", "the bearer token the backend expects")
	lease := fs.Duration("lease", demo.DemoConfig().Lease, "how long a claim lasts")
	poll := fs.Duration("poll", demo.DemoConfig().PollInterval, "the safety-net poll interval")
	backoffBase := fs.Duration("backoff-base", demo.DemoConfig().Backoff.Base, "the first retry's delay")
	backoffMax := fs.Duration("backoff-max", demo.DemoConfig().Backoff.Max, "the longest retry delay")
	if err := fs.Parse(args); err != nil {
		return err
	}
	store, err := demo.OpenStore(ctx, sf.db, sf.databaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	sender, err := httpsender.New(*backendURL, metrics.Routes(), httpsender.WithTimeout(demo.ClientTimeout),
		httpsender.WithTokenSource(httpsender.StaticToken(*token)))
	if err != nil {
		return err
	}
	cfg := demo.DemoConfig()
	cfg.Lease, cfg.PollInterval = *lease, *poll
	cfg.Backoff.Base, cfg.Backoff.Max = *backoffBase, *backoffMax
	cfg.Logger = slog.New(slog.NewTextHandler(out, nil))
	fmt.Fprintf(out, "processor: delivering %s to %s; Ctrl-C (or SIGTERM) stops it gracefully\n", store.Where, *backendURL)
	proc, err := outbox.NewProcessor(store.Outbox, sender, cfg)
	if err != nil {
		return err
	}
	return proc.Run(ctx)
}

// runBackend serves the demo backend and, on a second port, an admin API
// to make it misbehave: POST /down, /up, /faults?fail=0.2&status=503&retry_after=1s&slow=0.1&slow_by=2s&in_progress=0.1&drop=ENTITY_ID;
// GET /counts. With --database-url it keeps what it receives in
// PostgreSQL, and several backends may run on one database.
func runBackend(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("fitness backend", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "where the backend listens")
	adminAddr := fs.String("admin", "127.0.0.1:8081", "where the admin API listens")
	db := fs.String("backend-db", "fitness-backend.db", "the backend's SQLite file")
	databaseURL := fs.String("database-url", "", "keep what the backend receives in PostgreSQL instead (postgres://…)")
	token := fs.String("token", "demo-token", "the bearer token deliveries must carry")
	if err := fs.Parse(args); err != nil {
		return err
	}
	open := func() (*backend.Server, error) { return backend.Open(ctx, *db) }
	if *databaseURL != "" {
		open = func() (*backend.Server, error) { return backend.OpenPostgres(ctx, *databaseURL) }
	}
	be, err := open()
	if err != nil {
		return err
	}
	defer be.Close()
	be.RequireToken(*token)
	url, err := be.Start(*addr)
	if err != nil {
		return err
	}
	admin := &http.Server{Addr: *adminAddr, Handler: adminHandler(be, out), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		admin.Close()
	}()
	fmt.Fprintf(out, "backend: receiving at %s; admin at http://%s (POST /down, /up, /faults; GET /counts)\n", url, *adminAddr)
	if err := admin.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func adminHandler(be *backend.Server, out io.Writer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /down", func(w http.ResponseWriter, _ *http.Request) {
		be.Down()
		fmt.Fprintln(out, "backend: down (refusing connections)")
	})
	mux.HandleFunc("POST /up", func(w http.ResponseWriter, _ *http.Request) {
		if err := be.Up(); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		fmt.Fprintln(out, "backend: up")
	})
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		f, err := parseFaults(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		be.SetFaults(f)
		fmt.Fprintf(out, "backend: faults %+v\n", f)
	})
	mux.HandleFunc("GET /counts", func(w http.ResponseWriter, _ *http.Request) {
		counts, err := be.Counts()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(counts)
	})
	return mux
}

func parseFaults(r *http.Request) (backend.Faults, error) {
	q := r.URL.Query()
	var f backend.Faults
	var err error
	share := func(name string) float64 {
		v, e := strconv.ParseFloat(q.Get(name), 64)
		if q.Get(name) != "" && (e != nil || v < 0 || v > 1) {
			err = fmt.Errorf("%s must be a share from 0 to 1", name)
		}
		return v
	}
	duration := func(name string) time.Duration {
		v, e := time.ParseDuration(q.Get(name))
		if q.Get(name) != "" && e != nil {
			err = fmt.Errorf("%s must be a duration like 1s", name)
		}
		return v
	}
	f.FailShare, f.SlowShare, f.InProgressShare = share("fail"), share("slow"), share("in_progress")
	f.DropEntity = q.Get("drop")
	f.RetryAfter, f.SlowBy = duration("retry_after"), duration("slow_by")
	f.FailStatus = http.StatusServiceUnavailable
	if s := q.Get("status"); s != "" {
		if f.FailStatus, err = strconv.Atoi(s); err != nil || f.FailStatus < 400 {
			err = errors.New("status must be an HTTP error status such as 503 or 429")
		}
	}
	return f, err
}
