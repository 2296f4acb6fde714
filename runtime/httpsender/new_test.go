package httpsender

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	cases := []struct {
		name   string
		base   string
		routes map[string]string
		opts   []Option
		want   string // substring of the error
	}{
		{"unparsable", "http://a b", testRoutes, nil, "does not parse"},
		{"password not echoed", "http://user:s3cret@a b", testRoutes, nil, "does not parse"},
		{"no scheme", "api.example.com", testRoutes, nil, "has no scheme"},
		{"ftp", "ftp://api.example.com", testRoutes, nil, "has scheme \"ftp\""},
		{"no host", "https:///v1", testRoutes, nil, "has no host"},
		{"query", "https://api.example.com?x=1", testRoutes, nil, "query"},
		{"no routes", "https://api.example.com", nil, nil, "no routes"},
		{"relative route", "https://api.example.com", map[string]string{"a": "v1/a"}, nil, `must start with "/"`},
		{"empty type", "https://api.example.com", map[string]string{"": "/a"}, nil, "empty event type"},
		{"nil client", "https://api.example.com", testRoutes, []Option{WithClient(nil)}, "WithClient(nil)"},
		{"zero timeout", "https://api.example.com", testRoutes, []Option{WithTimeout(0)}, "must be positive"},
		{"bad header name", "https://api.example.com", testRoutes, []Option{WithHeader("X Bad", "v")}, "not a valid header name"},
		{"bad header value", "https://api.example.com", testRoutes, []Option{WithHeader("X-Ok", "a\r\nb")}, "control characters"},
		{"reserved header", "https://api.example.com", testRoutes, []Option{WithHeader("idempotency-key", "k")}, "sets this header itself"},
		{"outbox header", "https://api.example.com", testRoutes, []Option{WithHeader("X-Outbox-Attempt", "1")}, "sets this header itself"},
		{"empty id field", "https://api.example.com", testRoutes, []Option{WithRemoteIDField("")}, "field name is empty"},
		{"nil token source", "https://api.example.com", testRoutes, []Option{WithTokenSource(nil)}, "WithTokenSource(nil)"},
		{"empty static token", "https://api.example.com", testRoutes, []Option{WithTokenSource(StaticToken(""))}, "the token is empty"},
		{"static token not echoed", "https://api.example.com", testRoutes, []Option{WithTokenSource(StaticToken("s3cret\r\n"))}, "control characters"},
		{"token source and header", "https://api.example.com", testRoutes,
			[]Option{WithHeader("authorization", "Bearer s3cret"), WithTokenSource(StaticToken("t"))}, "both set the Authorization header; drop one"},
		{"token source and route header", "https://api.example.com", testRoutes,
			[]Option{WithTokenSource(StaticToken("t")), WithRouteHeader("weight.created", "Authorization", "Bearer s3cret")}, "both set the Authorization header; drop one"},
		{"route header without route", "https://api.example.com", testRoutes,
			[]Option{WithRouteHeader("sleep.logged", "X-Tenant", "s3cret")}, `no route for event type "sleep.logged"; add one`},
		{"bad route header name", "https://api.example.com", testRoutes, []Option{WithRouteHeader("weight.created", "X Bad", "v")}, "not a valid header name"},
		{"bad route header value", "https://api.example.com", testRoutes, []Option{WithRouteHeader("weight.created", "X-Ok", "s3cret\n")}, "control characters"},
		{"reserved route header", "https://api.example.com", testRoutes, []Option{WithRouteHeader("weight.created", "Content-Type", "text/plain")}, "sets this header itself"},
		{"nil TLS config", "https://api.example.com", testRoutes, []Option{WithTLSConfig(nil)}, "WithTLSConfig(nil)"},
		{"TLS config and client", "https://api.example.com", testRoutes,
			[]Option{WithClient(&http.Client{}), WithTLSConfig(&tls.Config{})}, "set TLSClientConfig on that client's Transport instead"},
		{"nil logger", "https://api.example.com", testRoutes, []Option{WithLogger(nil)}, "WithLogger(nil)"},
		{"empty batch route", "https://api.example.com", testRoutes, []Option{WithBatchRoute("")}, `WithBatchRoute(""): the path is empty`},
		{"relative batch route", "https://api.example.com", testRoutes, []Option{WithBatchRoute("v1/batch")}, `WithBatchRoute("v1/batch"): the path must start with "/"`},
		{"batch route not a URL", "https://api.example.com", testRoutes, []Option{WithBatchRoute("/v1/\x7fbatch")}, "does not make a valid URL"},
		{"batch route is an event route", "https://api.example.com", testRoutes, []Option{WithBatchRoute("/v1/weight")},
			`the path is the route of event type "weight.created"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.base, tc.routes, tc.opts...)
			if err == nil {
				s.CloseIdleConnections()
				t.Fatalf("New succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q reveals the password", err)
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	cases := map[string]string{
		"https://api.example.com":         "https://api.example.com/v1/weight",
		"http://127.0.0.1:8080/":          "http://127.0.0.1:8080/v1/weight",
		"HTTPS://api.example.com/prefix/": "https://api.example.com/prefix/v1/weight",
	}
	for base, want := range cases {
		s, err := New(base, testRoutes, WithTimeout(time.Second), WithHeader("Authorization", "Bearer x"), nil, WithBatchRoute("/v1/batch"),
			WithRouteHeader("meal.created", "X-Tenant", "acme"), WithTLSConfig(&tls.Config{}), WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Errorf("New(%q): %v", base, err)
			continue
		}
		s.CloseIdleConnections()
		if got := s.routes["weight.created"].url; got != want {
			t.Errorf("New(%q): weight.created goes to %q, want %q", base, got, want)
		}
		if got, want := s.batch.url, strings.TrimSuffix(want, "/v1/weight")+"/v1/batch"; got != want {
			t.Errorf("New(%q): batches go to %q, want %q", base, got, want)
		}
	}
}
