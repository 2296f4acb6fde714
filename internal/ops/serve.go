package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxprom"
)

// health is what /healthz answers. A paused processor is healthy: it is
// doing what it should while nothing gets through, or while an operator
// paused delivery, and restarting it would not help; the pauses are
// reported so that they can be alerted on.
type health struct {
	Status string `json:"status"` // ok or unhealthy
	// Paused and the pause fields are the processor's own pause: nothing
	// gets through to the backend.
	Paused      bool       `json:"paused"`
	PausedSince *time.Time `json:"paused_since,omitempty"`
	PauseClass  string     `json:"pause_class,omitempty"`
	PauseReason string     `json:"pause_reason,omitempty"`
	// InFlight counts the events the processor claimed and has not
	// recorded an outcome for yet.
	InFlight int `json:"in_flight"`
	// SendLimit is how many sends the processor may have in flight at
	// once now: its Concurrency, or less while its adaptive limit holds
	// back from a backend at capacity.
	SendLimit int `json:"send_limit"`
	// OperatorPauses are the pauses operators put in force with the
	// pause command, which every processor of the outbox honours.
	OperatorPauses []pauseJSON `json:"operator_pauses,omitempty"`
	Error          string      `json:"error,omitempty"`
}

// serveOps serves /healthz and /metrics until ctx ends or stop is called.
func serveOps(ctx context.Context, addr string, o *Outbox, m *outboxprom.Metrics, state func() outbox.State, logger *slog.Logger) (stop func(), bound string, err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		st := state()
		h := health{Status: "ok", InFlight: st.InFlight, SendLimit: st.Limit}
		if st.Paused {
			since := st.PausedSince.UTC()
			h.Paused, h.PausedSince, h.PauseClass, h.PauseReason = true, &since, st.PauseClass.String(), st.PauseReason
		}
		code := http.StatusOK
		// Reading the pauses is also the check that the outbox can be read:
		// a small table, so a probe costs the database next to nothing.
		pauses, err := o.Pauses(r.Context())
		if err != nil {
			h.Status, h.Error, code = "unhealthy", "the outbox database cannot be read", http.StatusServiceUnavailable
		}
		if len(pauses) > 0 {
			h.OperatorPauses = toPausesJSON(pauses)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(h)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("ops server", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	return func() { srv.Close(); <-done }, ln.Addr().String(), nil
}
