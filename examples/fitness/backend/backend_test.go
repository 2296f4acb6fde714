package backend_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/outboxgen/outboxgen/examples/fitness/backend"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T) (*backend.Server, string) {
	t.Helper()
	be, err := backend.Open(t.Context(), filepath.Join(t.TempDir(), "backend.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	url, err := be.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return be, url
}

func post(t *testing.T, url, key, eventType, body string, header ...string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("X-Outbox-Event-Type", eventType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestReceivesDedupesAndValidates(t *testing.T) {
	be, url := start(t)
	id, key := uuid.NewString(), uuid.NewString()
	body := `{"payload_version":1,"id":"` + id + `","user_id":"ada","version":1,"kg":70}`
	if code := post(t, url+"/v1/weight", key, "weight.created", body); code != http.StatusCreated {
		t.Fatalf("first delivery: %d", code)
	}
	if code := post(t, url+"/v1/weight", key, "weight.created", body); code != http.StatusConflict {
		t.Fatalf("repeated delivery: %d, want 409", code)
	}
	updated := strings.Replace(body, `"version":1`, `"version":2`, 1)
	if code := post(t, url+"/v1/weight", uuid.NewString(), "weight.updated", updated); code != http.StatusCreated {
		t.Fatalf("update: %d", code)
	}
	for name, c := range map[string]struct{ key, typ, body string }{
		"no key":        {"", "weight.created", body},
		"wrong route":   {uuid.NewString(), "mood.created", body},
		"not json":      {uuid.NewString(), "weight.created", `{"payload_version":`},
		"missing parts": {uuid.NewString(), "weight.created", `{"payload_version":1}`},
	} {
		if code := post(t, url+"/v1/weight", c.key, c.typ, c.body); code/100 != 4 {
			t.Errorf("%s: %d, want a 4xx", name, code)
		}
	}
	counts, err := be.Counts("ada")
	if err != nil {
		t.Fatal(err)
	}
	if got := counts["weight"]; got.Records != 1 || got.Deliveries != 2 || got.Duplicates != 1 {
		t.Fatalf("counts %+v; want 1 record from 2 deliveries and 1 duplicate", got)
	}
}

func TestDownRefusesConnections(t *testing.T) {
	be, url := start(t)
	be.Down()
	if _, err := http.Post(url+"/v1/weight", "application/json", nil); err == nil {
		t.Fatal("a down backend accepted a connection")
	}
	if err := be.Up(); err != nil {
		t.Fatal(err)
	}
	if code := post(t, url+"/v1/weight", uuid.NewString(), "weight.created", `{}`); code != http.StatusUnprocessableEntity {
		t.Fatalf("after Up: %d", code)
	}
}

func TestRequiresToken(t *testing.T) {
	be, url := start(t)
	be.RequireToken("s3cret")
	if code := post(t, url+"/v1/weight", uuid.NewString(), "weight.created", `{}`); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if code := post(t, url+"/v1/weight", uuid.NewString(), "weight.created", `{}`, "Authorization", "Bearer s3cret"); code != http.StatusUnprocessableEntity {
		t.Fatalf("with token: %d", code)
	}
}
