package ops

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/outboxgen/outboxgen/internal/cli"
	"github.com/outboxgen/outboxgen/runtime/console"
)

// uiFlags are the ui verb's settings.
type uiFlags struct {
	listen, prefix             string
	allowActions               bool
	basicAuth, basicAuthFile   string
	bearerToken, bearerFile    string
	tlsCert, tlsKey, logFormat string
}

func (u *uiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&u.listen, "listen", "127.0.0.1:8089", "the address to serve the console on; an address other machines can reach needs --basic-auth* or --bearer-token*")
	fs.StringVar(&u.prefix, "prefix", "", "serve under this path, e.g. /outbox, behind a proxy that forwards it")
	fs.BoolVar(&u.allowActions, "allow-actions", false, "allow retry, discard, bulk retry and pause from the console; without it the console is read-only")
	fs.StringVar(&u.basicAuth, "basic-auth", "", `require HTTP basic authentication as "user:password" (visible to other users of this machine in the process list: prefer --basic-auth-file)`)
	fs.StringVar(&u.basicAuthFile, "basic-auth-file", "", `require HTTP basic authentication with the "user:password" in this file`)
	fs.StringVar(&u.bearerToken, "bearer-token", "", "require this bearer token (visible in the process list: prefer --bearer-token-file); browsers sign in with it once")
	fs.StringVar(&u.bearerFile, "bearer-token-file", "", "require the bearer token in this file")
	fs.StringVar(&u.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate; needs --tls-key")
	fs.StringVar(&u.tlsKey, "tls-key", "", "the private key of --tls-cert, in PEM")
	fs.StringVar(&u.logFormat, "log-format", "text", "text or json")
}

func uiCommand() cli.Command {
	return cli.Command{
		Name:    "ui",
		Summary: "serve the web console: overview, dead and failed events, retries (read-only unless --allow-actions)",
		Usage:   "[--listen 127.0.0.1:8089] [--allow-actions] [--basic-auth-file F | --bearer-token-file F] [--tls-cert F --tls-key F]",
		Example: "ui --db app.db\n" +
			"ui --database-url postgres://ops@db/app --listen 0.0.0.0:8089 --basic-auth-file /run/secrets/console --tls-cert tls.crt --tls-key tls.key --allow-actions",
		Setup: func(fs *flag.FlagSet) cli.Action {
			var t target
			t.register(fs)
			var u uiFlags
			u.register(fs)
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return cli.Usagef("takes no arguments, got %q", args[0])
				}
				auth, kind, err := u.auth()
				if err != nil {
					return cli.Usagef("%v", err)
				}
				if err := u.validate(kind); err != nil {
					return cli.Usagef("%v", err)
				}
				return serveUI(e, &t, &u, auth, kind)
			}
		},
	}
}

// auth returns the console's Authenticator from the flags, and its kind
// for the log: "basic", "bearer" or "none".
func (u *uiFlags) auth() (console.Authenticator, string, error) {
	given := 0
	for _, s := range []string{u.basicAuth, u.basicAuthFile, u.bearerToken, u.bearerFile} {
		if s != "" {
			given++
		}
	}
	if given > 1 {
		return nil, "", errors.New("give one of --basic-auth, --basic-auth-file, --bearer-token and --bearer-token-file")
	}
	secret := func(value, file, flagName string) (string, error) {
		if file == "" {
			return value, nil
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--%s: %w", flagName, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	switch {
	case u.basicAuth != "" || u.basicAuthFile != "":
		s, err := secret(u.basicAuth, u.basicAuthFile, "basic-auth-file")
		if err != nil {
			return nil, "", err
		}
		user, password, ok := strings.Cut(s, ":")
		if !ok || user == "" || len(password) < 8 {
			return nil, "", errors.New(`basic authentication needs "user:password", with a password of 8 characters or more`)
		}
		return console.BasicAuth(user, password), "basic", nil
	case u.bearerToken != "" || u.bearerFile != "":
		tok, err := secret(u.bearerToken, u.bearerFile, "bearer-token-file")
		if err != nil {
			return nil, "", err
		}
		if len(tok) < 16 {
			return nil, "", errors.New("the bearer token needs 16 characters or more")
		}
		return console.BearerToken(tok), "bearer", nil
	}
	return console.Anonymous(), "none", nil
}

func (u *uiFlags) validate(authKind string) error {
	switch {
	case (u.tlsCert == "") != (u.tlsKey == ""):
		return errors.New("HTTPS needs both --tls-cert and --tls-key")
	case u.logFormat != "text" && u.logFormat != "json":
		return fmt.Errorf("--log-format %q: use text or json", u.logFormat)
	case u.prefix != "" && (!strings.HasPrefix(u.prefix, "/") || strings.HasSuffix(u.prefix, "/")):
		return fmt.Errorf("--prefix %q: give a path such as /outbox", u.prefix)
	}
	loopback, err := isLoopback(u.listen)
	if err != nil {
		return err
	}
	if !loopback && authKind == "none" {
		return fmt.Errorf("--listen %s can be reached from other machines, and the console shows health data: give --basic-auth-file or --bearer-token-file (or listen on 127.0.0.1)", u.listen)
	}
	return nil
}

// isLoopback reports whether addr only listens on this machine.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("--listen %q: give host:port, e.g. 127.0.0.1:8089", addr)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

func serveUI(e *env, t *target, u *uiFlags, auth console.Authenticator, authKind string) error {
	logger := slog.New(slog.NewTextHandler(e.Stderr, nil))
	if u.logFormat == "json" {
		logger = slog.New(slog.NewJSONHandler(e.Stderr, nil))
	}
	if e.LogSignals != nil {
		e.LogSignals(func(msg string) { logger.Warn(msg) })
	}
	o, err := t.openLogged(e, logger)
	if err != nil {
		return err
	}
	defer o.Close()
	h, err := console.New(console.Options{
		Store: o.browsable(), Auth: auth, AllowActions: u.allowActions, Prefix: u.prefix, Name: o.Where, Logger: logger,
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(u.prefix+"/", h)
	if u.prefix != "" {
		mux.Handle(u.prefix, h)
	}
	ln, err := net.Listen("tcp", u.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", u.listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	scheme := "http"
	if u.tlsCert != "" {
		scheme = "https"
	}
	if loopback, _ := isLoopback(u.listen); !loopback && scheme == "http" {
		logger.Warn("console served without TLS on an address other machines can reach: its credentials and pages cross the network in clear text; give --tls-cert and --tls-key, or put a TLS proxy in front")
	}
	logger.Info("console serving", "url", scheme+"://"+ln.Addr().String()+u.prefix+"/", "outbox", o.Where, "auth", authKind, "actions_allowed", u.allowActions)
	if e.Listening != nil {
		e.Listening(ln.Addr().String())
	}
	done := make(chan error, 1)
	go func() {
		if u.tlsCert != "" {
			done <- srv.ServeTLS(ln, u.tlsCert, u.tlsKey)
		} else {
			done <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-done:
		return fmt.Errorf("console server: %w", err)
	case <-e.Ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(e.Ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
	<-done
	logger.Info("console stopped")
	return nil
}

// browsable returns the store as the console's Store.
func (o *Outbox) browsable() console.Store {
	if o.sqlite != nil {
		return o.sqlite
	}
	return o.pg
}
