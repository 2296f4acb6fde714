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
	"strconv"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/httpsender"
)

const (
	groupHTTP    = "3. Delivery throughput over HTTP to a local no-op server, pre-filled backlog"
	groupHTTPCPU = "3b. CPU per delivered event during the HTTP drain (the server's share included in Go)"
)

// The HTTP delivery measurements.
var (
	mHTTPOursDef   = def{"http.ours.default", groupHTTP, "outboxgen processor + httpsender, " + defaultLabel + " (sender's own client)", "events/s", true}
	mHTTPOurs64    = def{"http.ours.64", groupHTTP, "outboxgen processor + httpsender, Concurrency 64, BatchSize 64 (sender's own client)", "events/s", true}
	mHTTPOurs256   = def{"http.ours.256", groupHTTP, "outboxgen processor + httpsender, Concurrency 256, BatchSize 256 (client with 256 idle conns)", "events/s", true}
	mHTTPOurs1024  = def{"http.ours.1024", groupHTTP, "outboxgen processor + httpsender, Concurrency 1024, BatchSize 128 (client with 1024 idle conns)", "events/s", true}
	mHTTPOursBatch = def{"http.ours.batch", groupHTTP, "outboxgen processor + httpsender batch endpoint, Concurrency 1000, BatchSize 1000, SendBatch 500", "events/s", true}
	mHTTPOursB250  = def{"http.ours.batch250", groupHTTP, "outboxgen processor + httpsender batch endpoint, Concurrency 1000, BatchSize 250, SendBatch 250", "events/s", true}
)

// benchRoute is where the HTTP measurements deliver, and benchBatchRoute
// where the batch measurement does.
const (
	benchRoute      = "/v1/bench"
	benchBatchRoute = "/v1/batch"
)

// sink is a local HTTP server that reads each request and answers 200.
type sink struct {
	srv  *http.Server
	url  string
	hits atomic.Int64
	done chan error
}

// startSink listens on a free loopback port.
func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	s := &sink{url: "http://" + ln.Addr().String(), done: make(chan error, 1)}
	body := []byte(`{}`)
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.hits.Add(1)
			if r.URL.Path == benchBatchRoute {
				answerBatch(w, r)
				return
			}
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "2")
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.done <- err
		}
		close(s.done)
	}()
	return s, nil
}

// answerBatch answers a batch request of httpsender: 200 for each event.
func answerBatch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	type result struct {
		ID     string `json:"id"`
		Status int    `json:"status"`
	}
	res := struct {
		Results []result `json:"results"`
	}{Results: make([]result, len(req.Events))}
	for i, ev := range req.Events {
		res.Results[i] = result{ID: ev.ID, Status: http.StatusOK}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

// stop closes the server and its connections.
func (s *sink) stop() error {
	err := s.srv.Close()
	if serveErr := <-s.done; serveErr != nil {
		return serveErr
	}
	return err
}

// keepAliveClient is an HTTP client keeping up to idle connections to one
// host open between requests.
func keepAliveClient(idle int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        idle,
			MaxIdleConnsPerHost: idle,
			IdleConnTimeout:     90 * time.Second,
		},
		Timeout: 15 * time.Second,
	}
}

// postWorker delivers each job like the outbox's sender does: a POST of the
// payload with an idempotency key, through a shared keep-alive client.
type postWorker struct {
	river.WorkerDefaults[weightArgs]
	client *http.Client
	url    string
}

// Work implements river.Worker.
func (w *postWorker) Work(ctx context.Context, job *river.Job[weightArgs]) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(job.EncodedArgs))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", strconv.FormatInt(job.ID, 10))
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", w.url, resp.Status)
	}
	return nil
}

// httpDeliveries runs the HTTP measurements once.
func (b *bench) httpDeliveries(ctx context.Context) {
	// The backlog of the no-op drain, so that the batch endpoint's ratio to
	// it compares drains of one size, and a batch drain lasts about 5 s
	// rather than under 3, in which one stall of the machine weighs more.
	n := b.sizes.Backlog
	ours, errO := b.templates(ctx, oursFiller, b.sizes.SmallBacklog, n)
	rv, errR := b.templates(ctx, riverFiller, n)
	s, err := startSink()
	if err != nil {
		b.res.fail("HTTP sink", err)
		return
	}
	defer func() {
		if err := s.stop(); err != nil {
			b.res.fail("HTTP sink", err)
		}
	}()
	for _, oc := range []struct {
		d    def
		cfg  outbox.Config
		opts []httpsender.Option
	}{
		{mHTTPOursDef, outbox.Config{}, nil},
		{mHTTPOurs64, outbox.Config{Concurrency: 64, BatchSize: 64}, nil},
		{mHTTPOurs256, outbox.Config{Concurrency: 256, BatchSize: 256}, []httpsender.Option{httpsender.WithClient(keepAliveClient(256))}},
		// Claims smaller than the capacity overlap with the recording of
		// earlier outcomes instead of waiting for it.
		{mHTTPOurs1024, outbox.Config{Concurrency: 1024, BatchSize: 128}, []httpsender.Option{httpsender.WithClient(keepAliveClient(1024))}},
		{mHTTPOursBatch, outbox.Config{Concurrency: 1000, BatchSize: 1000, SendBatch: 500}, []httpsender.Option{httpsender.WithBatchRoute(benchBatchRoute)}},
		{mHTTPOursB250, outbox.Config{Concurrency: 1000, BatchSize: 250, SendBatch: 250}, []httpsender.Option{httpsender.WithBatchRoute(benchBatchRoute)}},
	} {
		name := fmt.Sprintf("outboxgen, Concurrency %d, BatchSize %d", oc.cfg.Concurrency, oc.cfg.BatchSize)
		if oc.d == mHTTPOursDef {
			name = "outboxgen, " + defaultLabel
		}
		if oc.cfg.SendBatch > 1 {
			name += fmt.Sprintf(", SendBatch %d", oc.cfg.SendBatch)
		}
		cpu := def{"cpu." + oc.d.Key, groupHTTPCPU, name, "µs/event", false}
		if errO != nil {
			b.res.fail(oc.d.Name, errO)
			continue
		}
		b.measureDrain(ctx, oc.d, cpu, ours[n], func(ctx context.Context, dbURL string) (drainResult, error) {
			opts := append([]httpsender.Option{httpsender.WithLogger(quiet)}, oc.opts...)
			sender, err := httpsender.New(s.url, map[string]string{benchEventType: benchRoute}, opts...)
			if err != nil {
				return drainResult{}, err
			}
			defer sender.CloseIdleConnections()
			return drainOurs(ctx, dbURL, n, oc.cfg, sender, b.sizes.DrainCap, b.profilePath(oc.d.Key))
		})
	}
	for _, rc := range riverConfigs {
		d := riverHTTPDef(rc)
		if errR != nil {
			b.res.fail(d.Name, errR)
			continue
		}
		cpu := def{"cpu.http.river." + rc.key, groupHTTPCPU, "River, " + rc.label(), "µs/event", false}
		b.measureDrain(ctx, d, cpu, rv[n], func(ctx context.Context, dbURL string) (drainResult, error) {
			client := keepAliveClient(rc.workers)
			defer client.CloseIdleConnections()
			w := &postWorker{client: client, url: s.url + benchRoute}
			return drainRiver(ctx, dbURL, n, riverWorking{MaxWorkers: rc.workers, FetchCooldown: rc.cooldown, Register: func(ws *river.Workers) { river.AddWorker(ws, w) }}, b.riverCap(rc))
		})
	}
}

// riverHTTPDef is the HTTP drain of River configuration c.
func riverHTTPDef(c riverConfig) def {
	return def{"http.river." + c.key, groupHTTP, "River POST worker, " + c.label(), "events/s", true}
}
