package ops

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/outboxgen/outboxgen/internal/cli"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/httpsender"
	"github.com/outboxgen/outboxgen/runtime/outboxprom"
)

func runCommand(cats Catalogs) cli.Command {
	return cli.Command{
		Name:    "run",
		Summary: "run the processor as a daemon: deliver events to the backend until SIGTERM",
		Usage:   "--backend URL [--" + cats.Flag + " FILE] [--config run.yaml] [--token-file F] [--ca-file F] [--client-cert F --client-key F] [flags]",
		Example: "run --db app.db --backend https://api.example.com --listen 127.0.0.1:9090\n" +
			"run --database-url postgres://processor@db/app --backend https://api.example.com --token-file /run/secrets/token --ca-file ca.pem --client-cert tls.crt --client-key tls.key\n" +
			"run --config run.yaml",
		Setup: func(fs *flag.FlagSet) cli.Action {
			var c runConfig
			var t target
			t.register(fs)
			configPath := fs.String("config", "", "a YAML file of these settings (keys like batch_size); flags win over it")
			catalogField := &c.Catalog
			if cats.Flag == "spec" {
				catalogField = &c.Spec
			}
			fs.StringVar(catalogField, cats.Flag, cats.Default, cats.What+": event routes, retry schedules, and the tables to mark synced")
			c.register(fs)
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return cli.Usagef("takes no arguments, got %q", args[0])
				}
				c.DB, c.DatabaseURL = t.db, t.databaseURL
				if *configPath != "" {
					if err := c.overlay(*configPath, fs); err != nil {
						return err
					}
					t.db, t.databaseURL = c.DB, c.DatabaseURL
				}
				if err := c.validate(); err != nil {
					return cli.Usagef("%v", err)
				}
				return run(e, &t, &c, cats)
			}
		},
	}
}

func run(e *env, t *target, c *runConfig, cats Catalogs) error {
	logger := slog.New(slog.NewTextHandler(e.Stderr, nil))
	if c.LogFormat == "json" {
		logger = slog.New(slog.NewJSONHandler(e.Stderr, nil))
	}
	catalogPath, err := c.catalogPath(cats)
	if err != nil {
		return err
	}
	cat, err := cats.Load(catalogPath)
	if err != nil {
		return err
	}
	backend, err := url.Parse(c.Backend)
	if err != nil {
		return fmt.Errorf("--backend is not a URL; give one such as https://api.example.com")
	}
	opts, err := c.senderOptions(backend)
	if err != nil {
		return err
	}
	opts = append(opts, httpsender.WithTimeout(c.Timeout), httpsender.WithLogger(logger))
	sendBatch := 1
	if c.BatchRoute != "" {
		opts = append(opts, httpsender.WithBatchRoute(c.BatchRoute))
		sendBatch = c.SendBatch
	}
	sender, err := httpsender.New(c.Backend, cat.Routes(), opts...)
	if err != nil {
		return err
	}
	defer sender.CloseIdleConnections()
	if c.TokenFile != "" {
		// Read it once now, so that a missing or empty file stops run at
		// start instead of pausing delivery.
		if _, err := httpsender.TokenFile(c.TokenFile).Token(e.Ctx, false); err != nil {
			return err
		}
	}

	if e.LogSignals != nil {
		e.LogSignals(func(msg string) { logger.Warn(msg) })
	}
	o, err := t.openLogged(e, logger)
	if err != nil {
		return err
	}
	defer o.Close()
	registerHooks(cat, o)
	metrics := outboxprom.New(o)
	proc, err := outbox.NewProcessor(o, sender, outbox.Config{
		Concurrency:      c.Concurrency,
		FixedConcurrency: c.Fixed,
		BatchSize:        c.BatchSize,
		SendBatch:        sendBatch,
		Lease:            c.Lease,
		PollInterval:     c.Poll,
		Heartbeat:        c.Heartbeat,
		Backoffs:         cat.Backoffs(),
		Retention:        c.Retention,
		StopTimeout:      c.StopTimeout,
		Logger:           logger,
		Observer:         metrics,
	})
	if err != nil {
		return err
	}
	metrics.Track(proc)

	ctx, cancel := context.WithCancel(e.Ctx)
	defer cancel()
	if c.Listen != "" {
		stopServer, addr, err := serveOps(ctx, c.Listen, o, metrics, proc.State, logger)
		if err != nil {
			return err
		}
		defer stopServer()
		logger.Info("serving /healthz and /metrics", "addr", addr)
		if e.Listening != nil {
			e.Listening(addr)
		}
	}
	logger.Info("delivering", "outbox", o.Where, "backend", withoutUserInfo(backend), "url_credentials", backend.User != nil, cats.Flag, catalogPath,
		"token", tokenOrigin(c), "mtls", c.ClientCert != "")
	return proc.Run(ctx)
}

// withoutUserInfo writes u without its user name and password, for logs.
func withoutUserInfo(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// tokenOrigin says where the bearer token comes from, for the log.
func tokenOrigin(c *runConfig) string {
	switch {
	case c.TokenFile != "":
		return "file " + c.TokenFile
	case c.TokenEnv != "":
		return "$" + c.TokenEnv
	}
	return "none"
}
