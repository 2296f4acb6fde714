package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestCapServerRefusesBeyondItsSlots checks the backend's rule without
// timing: with every slot held, a request is refused at once and without
// Retry-After; with one free, it is done.
func TestCapServerRefusesBeyondItsSlots(t *testing.T) {
	s, err := startCapServer(2)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
	}()
	post := func() *http.Response {
		t.Helper()
		resp, err := http.Post(s.url+benchRoute, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	s.active.Store(2)
	if resp := post(); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "" {
		t.Errorf("all slots held: %s, Retry-After %q; want 503 without Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	s.active.Store(1)
	if resp := post(); resp.StatusCode != http.StatusOK {
		t.Errorf("a slot free: %s, want 200", resp.Status)
	}
	s.down.Store(true)
	if resp := post(); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("down: %s, want 503", resp.Status)
	}
	c := s.counts()
	if c.Accepted != 1 || c.Refused != 1 || c.Outage != 1 || c.PeakActive != 2 || c.MeanHold() < capMinLatency {
		t.Errorf("counts = %+v, want 1 accepted (holding the second slot for ≥ %s), 1 refused, 1 during the outage", c, capMinLatency)
	}
}

// TestCapacity runs the capacity measurements at tiny sizes.
func TestCapacity(t *testing.T) {
	ctx, b := newTestBench(t)
	b.capacities(ctx)
	for _, f := range b.res.failures {
		t.Errorf("failed: %s", f)
	}
	want := []def{capSteady(capAdaptive, 64).rate, capSteady(capFixed, 16).rate, capOutage(capAdaptive, 64).rate, capOutage(capFixed, 64).rate}
	for _, n := range capSlots {
		want = append(want, capBackendDef(n), capClientDef(n))
	}
	for _, d := range want {
		if v, ok := b.res.median(d.Key); !ok || v <= 0 {
			t.Errorf("%s: no positive value recorded (got %v, %v)", d.Name, v, ok)
		}
	}
	// The adaptive limits kill nothing.
	for _, c := range []capConfig{capAdaptive, capDefault} {
		d := capSteady(c, 16).dead
		if v, ok := b.res.median(d.Key); !ok || v != 0 {
			t.Errorf("%s: got %v, %v; want 0", d.Name, v, ok)
		}
	}
	if len(b.res.capacityTargets()) != 5 {
		t.Errorf("targets = %+v, want 5", b.res.capacityTargets())
	}
}
