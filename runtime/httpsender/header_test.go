package httpsender

import (
	"context"
	"net/http"
	"sync"
	"testing"
)

func TestRouteHeader(t *testing.T) {
	var mu sync.Mutex
	got := map[string]http.Header{}
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get("X-Outbox-Event-Type")] = r.Header.Clone()
		mu.Unlock()
	})
	s := newSender(t, srv.URL,
		WithHeader("X-Tenant", "global"),
		WithRouteHeader("meal.created", "x-api-version", "2"),
		WithRouteHeader("meal.created", "X-Tenant", "acme"),
	)
	for _, typ := range []string{"weight.created", "meal.created"} {
		if _, err := s.Send(context.Background(), newEvent(t, typ, `{}`)); err != nil {
			t.Fatalf("Send %s: %v", typ, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]map[string]string{
		"weight.created": {"X-Api-Version": "", "X-Tenant": "global", "Authorization": ""},
		"meal.created":   {"X-Api-Version": "2", "X-Tenant": "acme", "Authorization": ""},
	}
	for typ, headers := range want {
		for k, v := range headers {
			if g := got[typ].Values(k); (v == "" && len(g) != 0) || (v != "" && (len(g) != 1 || g[0] != v)) {
				t.Errorf("%s: header %s = %q, want %q", typ, k, g, v)
			}
		}
	}
}

// eventHeaders counts what an event's request carries besides its metadata
// and its route's headers, so that Send sizes the header map right.
func TestEventHeadersCount(t *testing.T) {
	s := newSender(t, "http://127.0.0.1")
	ev := newEvent(t, "weight.created", `{}`)
	rt, err := s.routeOf(ev)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	setHeaders(h, rt, ev)
	if len(h) != len(rt.header)+eventHeaders {
		t.Errorf("an event without metadata gets %d headers (%v) with %d of its route's; eventHeaders says %d more", len(h), h, len(rt.header), eventHeaders)
	}
}
