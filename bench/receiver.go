package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics/receiver"
	"github.com/outboxgen/outboxgen/examples/fitness/metrics/wire"
	"github.com/outboxgen/outboxgen/runtime/inbox"
	"github.com/outboxgen/outboxgen/runtime/inbox/pginbox"
)

const (
	groupReceiver    = "7. The generated receiver: weight changes received, one instance, default storage, the same PostgreSQL"
	groupReceiverCPU = "7b. CPU per received event (the clients' share included in Go)"
)

// receiverLoad is one way of loading the receiver: clients posting
// requests of perRequest events each, as fast as they are answered.
type receiverLoad struct {
	events, requests def
	clients          int
	perRequest       int // 1: each event to its route; more: the batch route
}

// The receiver measurements.
var receiverLoads = []receiverLoad{
	{
		events:   def{"receiver.batch500", groupReceiver, "batch route, 500 events per request, 4 clients: events", "events/s", true},
		requests: def{"receiver.batch500.requests", groupReceiver, "batch route, 500 events per request, 4 clients: requests", "requests/s", true},
		clients:  4, perRequest: 500,
	},
	{
		events:   def{"receiver.batch100", groupReceiver, "batch route, 100 events per request, 16 clients: events", "events/s", true},
		requests: def{"receiver.batch100.requests", groupReceiver, "batch route, 100 events per request, 16 clients: requests", "requests/s", true},
		clients:  16, perRequest: 100,
	},
	{
		events:  def{"receiver.single", groupReceiver, "one event per request to its route, 64 clients (requests/s = events/s)", "events/s", true},
		clients: 64, perRequest: 1,
	},
}

// receiverPool is the receiver's connection pool: as many connections as
// clients would queue on, and no more than the server's share of two cores
// can use.
const receiverPool = 16

// receivers runs the receiver measurements once.
func (b *bench) receivers(ctx context.Context) {
	for _, l := range receiverLoads {
		if ctx.Err() != nil {
			return
		}
		res, err := b.receive(ctx, l)
		if err != nil {
			b.res.fail(l.events.Name, err)
			continue
		}
		b.res.add(l.events, res.Rate())
		if l.perRequest > 1 {
			b.res.add(l.requests, res.Rate()/float64(l.perRequest))
		}
		goCPU, pgCPU := res.cpuPerEvent()
		b.res.add(def{"cpu." + l.events.Key + ".go", groupReceiverCPU, l.events.Name + ": Go process", "µs/event", false}, goCPU)
		b.res.add(def{"cpu." + l.events.Key + ".pg", groupReceiverCPU, l.events.Name + ": PostgreSQL", "µs/event", false}, pgCPU)
		b.logf("%s: %s events/s (CPU per event: Go %.0f µs, PostgreSQL %.0f µs)", l.events.Name, format(res.Rate(), "events/s"), goCPU, pgCPU)
	}
}

// receive serves the generated fitness receiver, with its default
// storage on a fresh database, on loopback, and times the clients of l
// posting the backlog's worth of new weight entries to it.
func (b *bench) receive(ctx context.Context, l receiverLoad) (drainResult, error) {
	dbURL, done, err := b.srv.fresh(ctx, "receiver", "")
	if err != nil {
		return drainResult{}, err
	}
	defer done()
	store, err := pginbox.Open(ctx, dbURL, receiverPool)
	if err != nil {
		return drainResult{}, err
	}
	defer store.Close()
	storage := receiver.NewStorage(store)
	if err := storage.Migrate(ctx); err != nil {
		return drainResult{}, err
	}
	h, err := receiver.New[pgx.Tx](store, storage, inbox.WithoutAuthentication(), inbox.WithLogger(quiet))
	if err != nil {
		return drainResult{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return drainResult{}, err
	}
	srv := inbox.NewServer("", h)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		<-served
	}()

	reqs, err := receiverRequests(b.sizes.SmallBacklog, l.perRequest)
	if err != nil {
		return drainResult{}, err
	}
	base := "http://" + ln.Addr().String()
	client := keepAliveClient(l.clients)
	defer client.CloseIdleConnections()
	stopProfile, err := startProfile(b.profilePath(l.events.Key))
	if err != nil {
		return drainResult{}, err
	}
	defer stopProfile()
	b.srv.checkpoint(ctx, nil) // the migration's writes are not flushed during the measurement

	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, l.clients)
	before, start := takeCPU(), time.Now()
	for range l.clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(reqs) || ctx.Err() != nil {
					return
				}
				if err := reqs[i].send(ctx, client, base); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	res := drainResult{Done: b.sizes.SmallBacklog, Elapsed: time.Since(start), CPU: takeCPU().since(before)}
	close(errs)
	if err := errors.Join(<-errs, ctx.Err()); err != nil {
		return drainResult{}, err
	}
	return res, nil
}

// receiverRequest is one prepared request: to the route of its one event,
// or a batch.
type receiverRequest struct {
	path, key string
	body      []byte
	events    int
}

// receiverRequests prepares n new weight entries, perRequest a request.
func receiverRequests(n, perRequest int) ([]receiverRequest, error) {
	type item struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Path    string          `json:"path"`
		Attempt int             `json:"attempt"`
		Payload json.RawMessage `json:"payload"`
	}
	at := time.Date(2026, 5, 1, 7, 0, 0, 0, time.UTC)
	var out []receiverRequest
	var batch []item
	for i := range n {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		payload, err := json.Marshal(wire.WeightPayload{PayloadVersion: 1, ID: id, UserID: fmt.Sprintf("user-%04d", i%1000), RecordedAt: at, Kg: 70.5, Version: 1})
		if err != nil {
			return nil, err
		}
		key := uuid.NewString()
		if perRequest == 1 {
			out = append(out, receiverRequest{path: wire.Routes()[wire.EventWeightCreated], key: key, body: payload, events: 1})
			continue
		}
		batch = append(batch, item{ID: key, Type: wire.EventWeightCreated, Path: wire.Routes()[wire.EventWeightCreated], Attempt: 1, Payload: payload})
		if len(batch) == perRequest || i == n-1 {
			body, err := json.Marshal(map[string]any{"events": batch})
			if err != nil {
				return nil, err
			}
			out = append(out, receiverRequest{path: wire.BatchRoute, body: body, events: len(batch)})
			batch = nil
		}
	}
	return out, nil
}

// send posts r and checks that every event in it was applied.
func (r receiverRequest) send(ctx context.Context, client *http.Client, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+r.path, bytes.NewReader(r.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if r.key != "" {
		req.Header.Set("Idempotency-Key", r.key)
		req.Header.Set("X-Outbox-Event-Type", wire.EventWeightCreated)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if r.key != "" {
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("receiver: %d %.200s", resp.StatusCode, body)
		}
		return nil
	}
	var res struct{ Results []struct{ Status int } }
	if err := json.Unmarshal(body, &res); err != nil || resp.StatusCode != http.StatusOK || len(res.Results) != r.events {
		return fmt.Errorf("receiver batch: %d %.200s", resp.StatusCode, body)
	}
	for _, e := range res.Results {
		if e.Status != http.StatusCreated {
			return fmt.Errorf("receiver batch: an event answered %d", e.Status)
		}
	}
	return nil
}
