package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The backend's work per request: uniform between capMinLatency and
// capMinLatency+capSpread, 12.5 ms on average.
const (
	capMinLatency = 5 * time.Millisecond
	capSpread     = 15 * time.Millisecond
)

// capServer is a backend of limited capacity: each request holds one of n
// slots for 5–20 ms of work; a request arriving while all n are held is
// answered 503 at once, without Retry-After, so that nothing but the
// refusal itself tells the client to slow down. While down, it answers
// every request 503 (an outage).
type capServer struct {
	srv  *http.Server
	url  string
	n    int64
	down atomic.Bool
	done chan error

	active   atomic.Int64 // accepted requests in progress: the held slots
	arriving atomic.Int64 // requests in the handler, refused ones included

	mu         sync.Mutex // guards the counts below against a concurrent mark
	accepted   int64
	refused    int64 // beyond capacity
	outage     int64 // refused while down
	hold       time.Duration
	peakActive int64
	peakArrive int64
	firstAt    time.Time // the first accepted request since mark
}

// capCounts is what a capServer saw, since it started or since a mark.
type capCounts struct {
	Accepted, Refused, Outage int64
	Hold                      time.Duration // slots held by accepted requests, summed
	PeakActive, PeakArriving  int64         // most requests accepted / arriving at once
	FirstAccepted             time.Time
}

// Requests is every request answered while up.
func (c capCounts) Requests() int64 { return c.Accepted + c.Refused }

// RefusedPct is the share of the requests answered while up that were
// refused for want of a free slot, in percent.
func (c capCounts) RefusedPct() float64 {
	if c.Requests() == 0 {
		return 0
	}
	return 100 * float64(c.Refused) / float64(c.Requests())
}

// MeanHold is how long an accepted request held its slot on average.
func (c capCounts) MeanHold() time.Duration {
	if c.Accepted == 0 {
		return 0
	}
	return c.Hold / time.Duration(c.Accepted)
}

// startCapServer listens on a free loopback port with n slots.
func startCapServer(n int) (*capServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	s := &capServer{url: "http://" + ln.Addr().String(), n: int64(n), done: make(chan error, 1)}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.done <- err
		}
		close(s.done)
	}()
	return s, nil
}

// ServeHTTP does a request's work if a slot is free and refuses it if not.
func (s *capServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	if s.down.Load() {
		s.mu.Lock()
		s.outage++
		s.mu.Unlock()
		refuse(w)
		return
	}
	if r.Method == http.MethodOptions {
		// httpsender's Ping: the backend is up. No work, no slot.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	arriving := s.arriving.Add(1)
	defer s.arriving.Add(-1)
	active := s.active.Add(1)
	if active > s.n {
		s.active.Add(-1)
		s.mu.Lock()
		s.refused++
		s.peakArrive = max(s.peakArrive, arriving)
		s.mu.Unlock()
		refuse(w)
		return
	}
	start := time.Now()
	time.Sleep(capMinLatency + rand.N(capSpread))
	held := time.Since(start)
	// The slot is free before the answer leaves, so that a client sending
	// its next request on receiving this answer never finds it held.
	s.active.Add(-1)
	s.mu.Lock()
	s.accepted++
	s.hold += held
	s.peakActive = max(s.peakActive, active)
	s.peakArrive = max(s.peakArrive, arriving)
	if s.firstAt.IsZero() {
		s.firstAt = start
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "2")
	_, _ = w.Write([]byte(`{}`))
}

// refuse answers 503 with no Retry-After.
func refuse(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, "at capacity\n")
}

// counts returns what the server saw since it started or since the last
// mark.
func (s *capServer) counts() capCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return capCounts{Accepted: s.accepted, Refused: s.refused, Outage: s.outage, Hold: s.hold,
		PeakActive: s.peakActive, PeakArriving: s.peakArrive, FirstAccepted: s.firstAt}
}

// mark zeroes the counts, so that counts reports from now on: the end of
// an outage, the start of a measurement.
func (s *capServer) mark() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accepted, s.refused, s.outage, s.hold, s.peakActive, s.peakArrive, s.firstAt = 0, 0, 0, 0, 0, 0, time.Time{}
}

// stop closes the server and its connections.
func (s *capServer) stop() error {
	err := s.srv.Close()
	if serveErr := <-s.done; serveErr != nil {
		return serveErr
	}
	return err
}

// calibrate measures the backend with a client that holds exactly n
// requests in flight for d, each sent as soon as the previous answer came:
// the most any client can get out of it without a refusal. It returns that
// client's rate and the capacity by Little's law, n ÷ the mean time an
// accepted request held its slot (about n ÷ 12.5 ms; time.Sleep overshoots
// a little, more on a busy machine). The latter is the capacity the
// processors are rated against: it is the backend's own limit, free of the
// client's overheads, so a processor cannot look better by being compared
// with a slow client.
func (s *capServer) calibrate(ctx context.Context, n int, d time.Duration) (client, capacity float64, err error) {
	hc := keepAliveClient(n)
	defer hc.CloseIdleConnections()
	s.mark()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	var ok atomic.Int64
	errs := make(chan error, n)
	start := time.Now()
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+benchRoute, nil)
				if err != nil {
					errs <- err
					return
				}
				resp, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, fmt.Errorf("calibrate at %d in flight: %w", n, err)
	}
	c := s.counts()
	if c.Refused > 0 {
		return 0, 0, fmt.Errorf("calibrate at %d in flight: %d requests refused; the server's slots leak", n, c.Refused)
	}
	if c.MeanHold() == 0 {
		return 0, 0, fmt.Errorf("calibrate at %d in flight: no request accepted", n)
	}
	return float64(ok.Load()) / elapsed.Seconds(), float64(n) / c.MeanHold().Seconds(), nil
}
