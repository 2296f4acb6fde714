// Package demo is the fitness example's scripted scenario: two users log a
// week of weight, steps, mood and sleep while the backend goes down, comes
// back flaky, and recovers; the outbox delivers every entry exactly once to
// the backend's records, and nothing goes dead.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/outboxgen/outboxgen/examples/fitness/backend"
	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/httpsender"
)

// Options configure a run of the scenario.
type Options struct {
	// SQLitePath is the app's database file, used unless DatabaseURL is set.
	SQLitePath string
	// DatabaseURL runs the app on PostgreSQL.
	DatabaseURL string
	// BackendDB is the demo backend's own SQLite file.
	BackendDB string
	// Out receives the narration, progress and final table.
	Out io.Writer
	// Live draws a progress bar in place (for terminals); otherwise
	// progress is printed as plain lines.
	Live bool
	// Pace is the pause between two saves (default 120 ms), and Outage
	// how long the backend stays down (default 3 s).
	Pace, Outage time.Duration
	// Timeout bounds the whole run (default 2 minutes).
	Timeout time.Duration
}

// DemoConfig is the processor configuration of the demo: the seed's
// behaviour with every delay shortened so that a run takes seconds.
func DemoConfig() outbox.Config {
	return outbox.Config{
		Concurrency:        4,
		BatchSize:          20,
		Lease:              15 * time.Second,
		PollInterval:       time.Second,
		Backoff:            outbox.Backoff{Base: 250 * time.Millisecond, Max: 2 * time.Second, Jitter: 0.2},
		UnavailableBackoff: outbox.Backoff{Base: 200 * time.Millisecond, Max: time.Second, Jitter: 0.2},
		StopTimeout:        2 * time.Second,
		Logger:             slog.New(slog.DiscardHandler),
	}
}

// ClientTimeout is how long the demo's sender waits for the backend.
const ClientTimeout = time.Second

// Run plays the scenario and returns its report. The report says whether
// the promise was kept; err is for a run that could not be played.
func Run(ctx context.Context, o Options) (Report, error) {
	o = o.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	say := func(format string, args ...any) { fmt.Fprintf(o.Out, format+"\n", args...) }

	store, err := OpenStore(ctx, o.SQLitePath, o.DatabaseURL)
	if err != nil {
		return Report{}, err
	}
	defer store.Close()
	be, err := backend.Open(ctx, o.BackendDB)
	if err != nil {
		return Report{}, err
	}
	defer be.Close()
	// The backend accepts this run's token only.
	token := "demo-" + runID() + runID()
	be.RequireToken(token)
	url, err := be.Start("127.0.0.1:0")
	if err != nil {
		return Report{}, err
	}
	sender, err := httpsender.New(url, metrics.Routes(), httpsender.WithTimeout(ClientTimeout),
		httpsender.WithTokenSource(httpsender.StaticToken(token)))
	if err != nil {
		return Report{}, err
	}
	defer sender.CloseIdleConnections()

	run := runID()
	users := []string{"ada-" + run, "bob-" + run}
	say("outboxgen fitness demo (run %s)", run)
	say("  app store: %s", store.Where)
	say("  backend:   %s (records kept in %s)", url, o.BackendDB)
	say("")

	proc, err := outbox.NewProcessor(store.Outbox, sender, DemoConfig())
	if err != nil {
		return Report{}, err
	}
	procCtx, stopProcessor := context.WithCancel(ctx)
	processorDone := make(chan error, 1)
	go func() { processorDone <- proc.Run(procCtx) }()
	defer func() {
		stopProcessor()
		<-processorDone
	}()
	progress := startProgress(ctx, o.Out, o.Live, store.Outbox, be)
	defer progress.stop()

	script := &script{m: store.Metrics, users: users, start: firstDay(), pace: o.Pace}
	progress.note("days 1-2: logging with the backend up")
	if err := script.days(ctx, 1, 2); err != nil {
		return Report{}, err
	}
	progress.note(fmt.Sprintf("the backend goes down for %s; entries keep being saved", o.Outage))
	be.Down()
	outageEnds := time.Now().Add(o.Outage)
	if err := script.days(ctx, 3, 4); err != nil {
		return Report{}, err
	}
	if err := sleep(ctx, time.Until(outageEnds)); err != nil {
		return Report{}, err
	}
	if err := be.Up(); err != nil {
		return Report{}, err
	}
	be.SetFaults(backend.Faults{
		FailShare: 0.1, FailStatus: 503, RetryAfter: time.Second,
		SlowShare: 0.15, SlowBy: ClientTimeout + 500*time.Millisecond,
	})
	progress.note("the backend is back but flaky: 10% answered 503 + Retry-After, 15% answered after the client gave up")
	if err := script.days(ctx, 5, 7); err != nil {
		return Report{}, err
	}
	if err := script.deleteOne(ctx); err != nil {
		return Report{}, err
	}
	be.SetFaults(backend.Faults{})
	progress.note("the backend is healthy again; draining the outbox")
	if err := waitForDrain(ctx, store.Outbox); err != nil {
		return Report{}, err
	}
	progress.stop()
	say("")
	report, err := buildReport(ctx, store, be, users)
	if err != nil {
		return Report{}, err
	}
	report.Print(o.Out)
	return report, nil
}

func (o Options) withDefaults() Options {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Pace == 0 {
		o.Pace = 120 * time.Millisecond
	}
	if o.Outage == 0 {
		o.Outage = 3 * time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	return o
}

// waitForDrain waits until no event is waiting for delivery.
func waitForDrain(ctx context.Context, s outbox.Store) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := s.Stats(ctx)
		if err != nil {
			return err
		}
		if st.Counts[outbox.StatusPending]+st.Counts[outbox.StatusProcessing]+st.Counts[outbox.StatusFailed] == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the outbox did not drain: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func runID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// firstDay is the first of the seven days logged: a week ago, at midnight UTC.
func firstDay() time.Time {
	return time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -7)
}
