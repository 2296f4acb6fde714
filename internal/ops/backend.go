package ops

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/outboxgen/outboxgen/runtime/httpsender"
)

// backendAuth is how run proves who it is to the backend, and how it
// checks that the backend is who it claims: bearer token, extra headers,
// TLS roots, client certificate and TLS version.
type backendAuth struct {
	TokenFile     string  `yaml:"token_file"`
	TokenEnv      string  `yaml:"token_env"`
	Headers       headers `yaml:"headers" flag:"header"`
	CAFile        string  `yaml:"ca_file"`
	ClientCert    string  `yaml:"client_cert"`
	ClientKey     string  `yaml:"client_key"`
	TLSMinVersion string  `yaml:"tls_min_version"`
	// InsecureSkipVerify turns off the verification of the backend's
	// certificate. Its flag's name says what it costs.
	InsecureSkipVerify bool `yaml:"insecure_skip_tls_verify_i_know"`
}

func (a *backendAuth) register(fs *flag.FlagSet) {
	fs.StringVar(&a.TokenFile, "token-file", "", "send \"Authorization: Bearer <the file's content>\"; the file is read again when it changes, so a rotated token needs no restart")
	fs.StringVar(&a.TokenEnv, "token-env", "", "send \"Authorization: Bearer $NAME\", the token in this environment variable")
	a.Headers = headers{}
	fs.Var(a.Headers, "header", "add this header to every request, as \"Name: value\"; repeatable")
	fs.StringVar(&a.CAFile, "ca-file", "", "trust the certificate authorities in this PEM file (instead of the system's) for the backend")
	fs.StringVar(&a.ClientCert, "client-cert", "", "present this PEM certificate to the backend (mutual TLS); needs --client-key")
	fs.StringVar(&a.ClientKey, "client-key", "", "the private key of --client-cert, in PEM")
	fs.StringVar(&a.TLSMinVersion, "tls-min-version", "1.2", "the oldest TLS version to accept: 1.2 or 1.3")
	fs.BoolVar(&a.InsecureSkipVerify, "insecure-skip-tls-verify-i-know", false, "do not verify the backend's certificate: anyone on the path can pose as the backend and read the events; for a test backend only")
}

func (a *backendAuth) validate() error {
	canonical := headers{}
	for name, value := range a.Headers { // a config file's keys may be in any case
		canonical[http.CanonicalHeaderKey(name)] = value
	}
	a.Headers = canonical
	switch {
	case a.TokenFile != "" && a.TokenEnv != "":
		return errors.New("give the bearer token by --token-file or by --token-env, not both")
	case (a.ClientCert == "") != (a.ClientKey == ""):
		return errors.New("mutual TLS needs both --client-cert and --client-key")
	case a.TLSMinVersion != "1.2" && a.TLSMinVersion != "1.3":
		return fmt.Errorf("--tls-min-version %q: use 1.2 or 1.3", a.TLSMinVersion)
	case a.Headers["Authorization"] != "" && (a.TokenFile != "" || a.TokenEnv != ""):
		return errors.New("--header Authorization and a bearer token (--token-file, --token-env) both set the Authorization header; drop one")
	}
	return nil
}

// usesTLS reports whether any TLS setting was given.
func (a *backendAuth) usesTLS() bool {
	return a.CAFile != "" || a.ClientCert != "" || a.InsecureSkipVerify || a.TLSMinVersion == "1.3"
}

// senderOptions turns the settings into the sender's options. It reads the
// files they name, and the token once, so that a mistake stops run at
// start rather than pausing delivery. Errors never quote a secret.
func (a *backendAuth) senderOptions(backend *url.URL) ([]httpsender.Option, error) {
	var opts []httpsender.Option
	for _, name := range slices.Sorted(maps.Keys(a.Headers)) {
		opts = append(opts, httpsender.WithHeader(name, a.Headers[name]))
	}
	switch {
	case a.TokenFile != "":
		opts = append(opts, httpsender.WithTokenSource(httpsender.TokenFile(a.TokenFile)))
	case a.TokenEnv != "":
		tok, ok := os.LookupEnv(a.TokenEnv)
		if !ok || strings.TrimSpace(tok) == "" {
			return nil, fmt.Errorf("--token-env %s: the variable is not set or empty", a.TokenEnv)
		}
		opts = append(opts, httpsender.WithTokenSource(httpsender.StaticToken(strings.TrimSpace(tok))))
	}
	if !a.usesTLS() {
		return opts, nil
	}
	if backend.Scheme != "https" {
		return nil, errors.New("TLS settings (--ca-file, --client-cert, --tls-min-version, …) need an https:// --backend")
	}
	cfg, err := a.tlsConfig()
	if err != nil {
		return nil, err
	}
	return append(opts, httpsender.WithTLSConfig(cfg)), nil
}

func (a *backendAuth) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: a.InsecureSkipVerify} //nolint:gosec // only behind the flag that says so
	if a.TLSMinVersion == "1.3" {
		cfg.MinVersion = tls.VersionTLS13
	}
	if a.CAFile != "" {
		pem, err := os.ReadFile(a.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", a.CAFile)
		}
	}
	if a.ClientCert != "" {
		cert, err := tls.LoadX509KeyPair(a.ClientCert, a.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("--client-cert %s with --client-key %s: %w", a.ClientCert, a.ClientKey, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// headers are extra request headers, from repeated --header flags or a
// config file's headers map.
type headers map[string]string

func (h headers) String() string {
	return strings.Join(slices.Sorted(maps.Keys(h)), ", ") // names only: values may be secrets
}

func (h headers) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return errors.New(`give a header as "Name: value"`)
	}
	h[http.CanonicalHeaderKey(strings.TrimSpace(name))] = strings.TrimSpace(value)
	return nil
}
