package httpsender

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strings"
)

// WithTLSConfig makes the sender's own transport use a copy of cfg, e.g.
// with RootCAs for a private certificate authority, or with Certificates
// (or GetClientCertificate) for mutual TLS. A config without a MinVersion
// gets TLS 1.2. A config with InsecureSkipVerify makes [New] log a warning
// once: the sender would talk to anyone who answers for the host. It cannot
// be combined with [WithClient]: set TLS on that client's Transport instead.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) {
		c.tlsConfig, c.tlsSet = cfg, true
	}
}

// checkTLS reports a TLS option that cannot take effect.
func (cfg *config) checkTLS() {
	switch {
	case !cfg.tlsSet:
	case cfg.tlsConfig == nil:
		cfg.errs = append(cfg.errs, errors.New("WithTLSConfig(nil): the config is nil; omit the option for the default TLS settings"))
	case cfg.clientSet:
		cfg.errs = append(cfg.errs, errors.New("WithTLSConfig: the sender uses the client given to WithClient, whose transport ignores this option; set TLSClientConfig on that client's Transport instead"))
	}
}

// senderTLS returns the TLS config of the sender's own transport.
func senderTLS(user *tls.Config) *tls.Config {
	if user == nil {
		return &tls.Config{MinVersion: tls.VersionTLS12}
	}
	c := user.Clone()
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// plainHTTPWarning is logged once by New for an http:// base URL whose host
// is not loopback: anyone on the path can read and alter the events.
const plainHTTPWarning = "httpsender: delivering health data over plain HTTP to a non-loopback host; use https"

// warnPlainHTTP logs plainHTTPWarning when base is plain HTTP to a host that
// is not loopback. It does not resolve or connect to the host.
func warnPlainHTTP(log *slog.Logger, base *url.URL) {
	if base.Scheme != "http" || isLoopback(base.Hostname()) {
		return
	}
	log.Warn(plainHTTPWarning, "host", base.Host)
}

// insecureTLSWarning is logged once by New for a TLS config that skips
// verifying the server's certificate: anyone on the path can pose as the
// backend and read the events.
const insecureTLSWarning = "httpsender: TLS certificate verification is off (InsecureSkipVerify); anyone on the path can pose as the backend and read the health data"

// warnInsecure logs a warning once for each way the sender's connection
// can be read or altered by others: plain HTTP to a host that is not
// loopback, and TLS without verifying the server.
func warnInsecure(log *slog.Logger, base *url.URL, cfg *tls.Config) {
	warnPlainHTTP(log, base)
	if cfg != nil && cfg.InsecureSkipVerify {
		log.Warn(insecureTLSWarning, "host", base.Host)
	}
}

// isLoopback reports whether host is localhost, in 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
