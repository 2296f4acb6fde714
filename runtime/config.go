package outbox

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
)

// The defaults of Config's Concurrency and BatchSize, chosen from bench/
// (docs/BENCHMARKS.md) on PostgreSQL and SQLite:
//
//   - BatchSize 500: a claim and a recording cost a statement's fixed price
//     whatever their size, so larger claims cost less per event. On the
//     no-op PostgreSQL drain (three rounds each, one hour) 128/250 ran at
//     16,850 events/s, 128/500 at 18,800 and 128/1000 at 19,000; on SQLite
//     500 drained 13-32 % faster than 250, and the application's saves
//     beside the drain were not slowed. Larger claims gain little more, and
//     on SQLite they hold the one write lock longer. A claim never leaves
//     more than 4 × Concurrency events waiting for a send slot, and fewer
//     when sends are slow (see Config.BatchSize).
//   - Concurrency 128: a ceiling, not a guess of the backend's capacity,
//     which the adaptive limit finds below it (from 16 sends). A backend
//     at 12 ms a request takes up to 128 ÷ 12 ms ≈ 10,000 events/s from
//     one processor; the fixed 16 of earlier releases capped it at 1,300.
//     httpsender's own client keeps as many connections open.
const (
	DefaultConcurrency = 128
	DefaultBatchSize   = 500
)

// Config tunes a Processor. The zero value gives the defaults.
type Config struct {
	// Concurrency bounds the sends in flight at once: a ceiling, below
	// which the limit adapts to what the backend takes (see "Adaptive
	// concurrency" in the Processor's documentation). Default
	// DefaultConcurrency.
	Concurrency int
	// FixedConcurrency keeps the limit of sends in flight at Concurrency,
	// whatever the backend answers: for a backend whose capacity is known
	// and reserved for this processor. A fixed limit above the backend's
	// capacity has requests refused (429, 503), and a refusal that follows
	// other deliveries spends the event's attempt.
	FixedConcurrency bool
	// BatchSize bounds the events one claim takes. Default
	// DefaultBatchSize. Claims
	// are not bounded by the free send slots: up to min(BatchSize,
	// 4 × Concurrency) claimed events may wait for a slot (the prefetch;
	// fewer when sends are slow), so that claiming, sending and recording
	// outcomes overlap instead of waiting on each other. A waiting event
	// whose lease leaves too little time for its send is given back
	// unsent, its attempt unspent. Outcomes waiting for their record do
	// not hold back the next claim; in all, at most twice (Concurrency
	// plus min(BatchSize, 4 × Concurrency)) events are claimed and not yet
	// recorded.
	BatchSize int
	// SendBatch is how many claimed events are handed to the sender in one
	// call when it is a BatchSender (one request to a batch endpoint, say).
	// Each event still counts against Concurrency, so a batch holds at most
	// Concurrency events. Default 1: one Send per event, whatever the
	// sender.
	SendBatch int
	// Lease is how long a claim lasts. An event whose lease expires (its
	// processor died mid-send) is claimed again, so Lease must exceed the
	// longest delivery the sender allows. Default 1 minute.
	Lease time.Duration
	// PollInterval is the safety net that looks for work nobody announced
	// (new events are announced by the store on commit) and reclaims
	// expired leases. Default 30 s, the seed's poll interval.
	PollInterval time.Duration
	// Backoff spaces retries of transient failures. Default DefaultBackoff().
	Backoff Backoff
	// Backoffs overrides Backoff per event type (generated packages
	// provide theirs from the spec).
	Backoffs map[string]Backoff
	// UnavailableBackoff spaces probes of an unavailable backend while
	// delivery is paused. Default 1 s doubling to 30 s, ±20%.
	UnavailableBackoff Backoff
	// Retention is how long completed events are kept before they are
	// deleted. Default 24 h; negative keeps them until purged by hand.
	Retention time.Duration
	// StopTimeout is how long Run waits for deliveries in flight when its
	// context ends before it cancels them. Default 10 s.
	StopTimeout time.Duration
	// Owner names this processor in leases. Default host:pid:random.
	Owner string
	// Heartbeat is how often the processor records in the store that it
	// is alive, and its state (see Store.Heartbeat); it also does at once
	// when delivery pauses or resumes. It counts as dead after three
	// missed heartbeats. Default 10 s.
	Heartbeat time.Duration
	// Logger receives the processor's logs. Default slog.Default().
	Logger *slog.Logger
	// Observer is told about outcomes and pauses, for metrics and tests.
	// Default: nobody.
	Observer Observer
}

// Observer is told what a processor does. Its methods are called from the
// processor's goroutines and must return quickly.
type Observer interface {
	// Recorded is called once an outcome is committed to the store; took
	// is how long the send took.
	Recorded(o Outcome, took time.Duration)
	// Paused is called when delivery pauses because the backend is
	// unavailable, with how long the pause lasts and why.
	Paused(d time.Duration, err error)
	// Resumed is called when a delivery succeeds after a pause.
	Resumed()
}

// LeaseObserver is an Observer that also learns of expired leases: the
// processor calls LeasesExpired with how many events it reclaimed whose
// processor died or stalled before recording an outcome. Each expired
// lease is reclaimed by one processor.
type LeaseObserver interface {
	Observer
	LeasesExpired(n int)
}

// leasesExpired tells o, if it is a LeaseObserver, of n expired leases.
func leasesExpired(o Observer, n int) {
	if lo, ok := o.(LeaseObserver); ok {
		lo.LeasesExpired(n)
	}
}

type noObserver struct{}

func (noObserver) Recorded(Outcome, time.Duration) {}
func (noObserver) Paused(time.Duration, error)     {}
func (noObserver) Resumed()                        {}

func (c Config) withDefaults() Config {
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.SendBatch <= 0 {
		c.SendBatch = 1
	}
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 30 * time.Second
	}
	c.Backoff = c.Backoff.orDefault(DefaultBackoff())
	if len(c.Backoffs) > 0 {
		own := make(map[string]Backoff, len(c.Backoffs))
		for typ, b := range c.Backoffs {
			own[typ] = b.orDefault(c.Backoff)
		}
		c.Backoffs = own
	}
	c.UnavailableBackoff = c.UnavailableBackoff.orDefault(Backoff{Base: time.Second, Max: 30 * time.Second, Jitter: 0.2})
	if c.Retention == 0 {
		c.Retention = 24 * time.Hour
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 10 * time.Second
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 10 * time.Second
	}
	if c.Owner == "" {
		host, _ := os.Hostname()
		c.Owner = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
	return c
}
