package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.yaml.in/yaml/v3"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/httpsender"
	"github.com/outboxgen/outboxgen/runtime/outboxprom"
)

// daemonConfig is run's configuration: a YAML file (--config) whose keys
// are the flags' names with "_" for "-"; flags given on the command line win.
type daemonConfig struct {
	DB          string        `yaml:"db"`
	DatabaseURL string        `yaml:"database_url"`
	Backend     string        `yaml:"backend"`
	Spec        string        `yaml:"spec"`
	Listen      string        `yaml:"listen"`
	Concurrency int           `yaml:"concurrency"`
	BatchSize   int           `yaml:"batch_size"`
	BatchRoute  string        `yaml:"batch_route"`
	SendBatch   int           `yaml:"send_batch"`
	Poll        time.Duration `yaml:"poll"`
	Lease       time.Duration `yaml:"lease"`
	Retention   time.Duration `yaml:"retention"`
	StopTimeout time.Duration `yaml:"stop_timeout"`
	Timeout     time.Duration `yaml:"timeout"`
	LogFormat   string        `yaml:"log_format"`
}

func runDaemon(e *env, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var c daemonConfig
	var t target
	t.register(fs)
	configPath := fs.String("config", "", "a YAML file of these settings (keys like batch_size); flags win over it")
	fs.StringVar(&c.Backend, "backend", "", "the backend's base URL, e.g. https://api.example.com")
	fs.StringVar(&c.Spec, "spec", "metrics.yaml", "the spec: event routes, retry schedules, and the tables to mark synced")
	fs.StringVar(&c.Listen, "listen", "", "serve /healthz and /metrics here, e.g. 127.0.0.1:9090")
	fs.IntVar(&c.Concurrency, "concurrency", 16, "deliveries in flight at once")
	fs.IntVar(&c.BatchSize, "batch-size", 100, "events claimed at once")
	fs.StringVar(&c.BatchRoute, "batch-route", "", "the backend's batch endpoint, e.g. /v1/batch: events are posted --send-batch at a time (see go doc ./runtime/httpsender)")
	fs.IntVar(&c.SendBatch, "send-batch", 100, "with --batch-route, events per batch request at most (a batch is also bounded by --concurrency and --batch-size)")
	fs.DurationVar(&c.Poll, "poll", 30*time.Second, "the safety-net poll interval")
	fs.DurationVar(&c.Lease, "lease", time.Minute, "how long a claim lasts; must exceed --timeout")
	fs.DurationVar(&c.Retention, "retention", 24*time.Hour, "how long completed events are kept")
	fs.DurationVar(&c.StopTimeout, "stop-timeout", 10*time.Second, "on SIGTERM, how long deliveries in flight may finish")
	fs.DurationVar(&c.Timeout, "timeout", 15*time.Second, "how long one delivery may take")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	c.DB, c.DatabaseURL = t.db, t.databaseURL
	if *configPath != "" {
		if err := c.overlay(*configPath, fs); err != nil {
			return e.fail(err)
		}
		t.db, t.databaseURL = c.DB, c.DatabaseURL
	}
	if err := c.validate(); err != nil {
		return e.fail(err)
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	if c.LogFormat == "json" {
		logger = slog.New(slog.NewJSONHandler(e.stderr, nil))
	}

	cat, err := loadCatalog(c.Spec)
	if err != nil {
		reportError(e.stderr, err)
		return exitFail
	}
	o, err := t.open(e.ctx, false)
	if err != nil {
		return e.fail(err)
	}
	defer o.Close()
	cat.registerHooks(o)
	opts := []httpsender.Option{httpsender.WithTimeout(c.Timeout)}
	sendBatch := 1
	if c.BatchRoute != "" {
		opts = append(opts, httpsender.WithBatchRoute(c.BatchRoute))
		sendBatch = c.SendBatch
	}
	sender, err := httpsender.New(c.Backend, cat.routes(), opts...)
	if err != nil {
		return e.fail(err)
	}
	defer sender.CloseIdleConnections()

	metrics := outboxprom.New(o)
	proc, err := outbox.NewProcessor(o, sender, outbox.Config{
		Concurrency:  c.Concurrency,
		BatchSize:    c.BatchSize,
		SendBatch:    sendBatch,
		Lease:        c.Lease,
		PollInterval: c.Poll,
		Backoffs:     cat.backoffs(),
		Retention:    c.Retention,
		StopTimeout:  c.StopTimeout,
		Logger:       logger,
		Observer:     metrics,
	})
	if err != nil {
		return e.fail(err)
	}

	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	if c.Listen != "" {
		stopServer, addr, err := serveOps(ctx, c.Listen, o, metrics, logger)
		if err != nil {
			return e.fail(err)
		}
		defer stopServer()
		logger.Info("serving /healthz and /metrics", "addr", addr)
		if e.listening != nil {
			e.listening(addr)
		}
	}
	logger.Info("delivering", "outbox", o.Where, "backend", c.Backend, "spec", c.Spec)
	if err := proc.Run(ctx); err != nil {
		return e.fail(err)
	}
	return exitOK
}

// overlay fills the settings the command line did not give from the file.
func (c *daemonConfig) overlay(path string, fs *flag.FlagSet) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var file daemonConfig
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		return fmt.Errorf("%s: %v (keys are the flags' names with _ for -, e.g. batch_size: 50)", path, err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	set := func(name string, apply func()) {
		if !given[name] {
			apply()
		}
	}
	set("db", func() { overlayString(&c.DB, file.DB) })
	set("database-url", func() { overlayString(&c.DatabaseURL, file.DatabaseURL) })
	set("backend", func() { overlayString(&c.Backend, file.Backend) })
	set("spec", func() { overlayString(&c.Spec, file.Spec) })
	set("listen", func() { overlayString(&c.Listen, file.Listen) })
	set("log-format", func() { overlayString(&c.LogFormat, file.LogFormat) })
	set("concurrency", func() { overlayValue(&c.Concurrency, file.Concurrency) })
	set("batch-size", func() { overlayValue(&c.BatchSize, file.BatchSize) })
	set("batch-route", func() { overlayString(&c.BatchRoute, file.BatchRoute) })
	set("send-batch", func() { overlayValue(&c.SendBatch, file.SendBatch) })
	set("poll", func() { overlayValue(&c.Poll, file.Poll) })
	set("lease", func() { overlayValue(&c.Lease, file.Lease) })
	set("retention", func() { overlayValue(&c.Retention, file.Retention) })
	set("stop-timeout", func() { overlayValue(&c.StopTimeout, file.StopTimeout) })
	set("timeout", func() { overlayValue(&c.Timeout, file.Timeout) })
	return nil
}

func overlayString(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func overlayValue[T int | time.Duration](dst *T, v T) {
	if v != 0 {
		*dst = v
	}
}

func (c *daemonConfig) validate() error {
	switch {
	case c.Backend == "":
		return errors.New("run needs --backend, the base URL events are posted to")
	case c.Lease <= c.Timeout:
		return fmt.Errorf("--lease (%s) must be longer than --timeout (%s), or a slow delivery loses its lease and is sent twice", c.Lease, c.Timeout)
	case c.SendBatch < 1:
		return fmt.Errorf("--send-batch %d: give at least 1 event per batch request", c.SendBatch)
	case c.LogFormat != "text" && c.LogFormat != "json":
		return fmt.Errorf("--log-format %q: use text or json", c.LogFormat)
	}
	return nil
}

// serveOps serves /healthz and /metrics until ctx ends or stop is called.
func serveOps(ctx context.Context, addr string, o *outboxDB, m *outboxprom.Metrics, logger *slog.Logger) (stop func(), bound string, err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		health := map[string]any{"status": "ok", "paused": m.IsPaused()}
		code := http.StatusOK
		if _, err := o.Stats(r.Context()); err != nil {
			health["status"], health["error"], code = "unhealthy", "the outbox database cannot be read", http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(health)
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
