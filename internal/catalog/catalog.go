// Package catalog holds what operating a generated package needs to know
// about it, as plain data: its metrics' tables, event types, routes and
// retry schedules, and its schema per SQL dialect.
//
// outboxgen builds a catalog from a metrics.yaml in memory; "outboxgen
// catalog" writes it as JSON, which outboxctl (the processor and ops verbs
// without the generator) reads. The JSON form is versioned by Format.
package catalog

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Format is the version of the JSON form this package reads and writes.
const Format = 1

// Catalog describes a generated package.
type Catalog struct {
	Format int `json:"format"`
	// Source names what the catalog was made from, e.g. "metrics.yaml".
	Source  string   `json:"source"`
	Metrics []Metric `json:"metrics"`
	// Schemas holds the metric tables' schema, by dialect ("sqlite",
	// "postgres").
	Schemas map[string]Schema `json:"schemas"`
}

// Metric is one metric of the package.
type Metric struct {
	Name    string   `json:"name"`
	Table   string   `json:"table"`
	Route   string   `json:"route"`
	Events  []string `json:"events"` // its event types: created, updated, deleted
	Backoff Backoff  `json:"backoff"`
}

// Backoff is a metric's retry schedule.
type Backoff struct {
	Base Duration `json:"base"`
	Max  Duration `json:"max"`
}

// Schema is the DDL that creates a package's tables in one dialect, and the
// columns that tables created by an older schema may lack.
type Schema struct {
	DDL     string   `json:"ddl"`
	Columns []Column `json:"columns"`
}

// Column is a metric field's column; see [outbox.Column].
type Column struct {
	Table      string `json:"table"`
	Name       string `json:"name"`
	Definition string `json:"definition"`
}

// OutboxColumns returns the columns as the stores' ApplySchema takes them.
func (s Schema) OutboxColumns() []outbox.Column {
	cols := make([]outbox.Column, len(s.Columns))
	for i, c := range s.Columns {
		cols[i] = outbox.Column(c)
	}
	return cols
}

// Jitter is the jitter of every retry schedule, as generated packages use.
const Jitter = 0.2

// Routes maps each event type to its delivery route.
func (c *Catalog) Routes() map[string]string {
	routes := map[string]string{}
	for _, m := range c.Metrics {
		for _, typ := range m.Events {
			routes[typ] = m.Route
		}
	}
	return routes
}

// Backoffs maps each event type to its retry schedule.
func (c *Catalog) Backoffs() map[string]outbox.Backoff {
	b := map[string]outbox.Backoff{}
	for _, m := range c.Metrics {
		for _, typ := range m.Events {
			b[typ] = outbox.Backoff{Base: time.Duration(m.Backoff.Base), Max: time.Duration(m.Backoff.Max), Jitter: Jitter}
		}
	}
	return b
}

// Read reads a catalog written by [Catalog.Write].
func Read(path string) (*Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the catalog: %w (write one with \"outboxgen catalog --spec metrics.yaml -o %s\")", err, path)
	}
	var c Catalog
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s is not a catalog: %w", path, err)
	}
	if c.Format != Format {
		return nil, fmt.Errorf("%s has catalog format %d; this binary reads format %d: write it again with the outboxgen of the same release", path, c.Format, Format)
	}
	if len(c.Metrics) == 0 {
		return nil, fmt.Errorf("%s lists no metrics", path)
	}
	return &c, nil
}

// Write writes c as indented JSON to path.
func (c *Catalog) Write(path string) error {
	c.Format = Format
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Duration is a time.Duration written as text ("30s") in JSON.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
