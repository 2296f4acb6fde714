package ops

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// runConfig is run's configuration. A YAML file (--config) may give any of
// it: its keys are the flags' names with "_" for "-" (the yaml tags), and
// flags given on the command line win over the file.
type runConfig struct {
	DB          string        `yaml:"db"`
	DatabaseURL string        `yaml:"database_url"`
	Backend     string        `yaml:"backend"`
	Spec        string        `yaml:"spec"`    // outboxgen reads the spec,
	Catalog     string        `yaml:"catalog"` // outboxctl a catalog; see Catalogs
	Listen      string        `yaml:"listen"`
	Concurrency int           `yaml:"concurrency"`
	Fixed       bool          `yaml:"fixed_concurrency"`
	BatchSize   int           `yaml:"batch_size"`
	BatchRoute  string        `yaml:"batch_route"`
	SendBatch   int           `yaml:"send_batch"`
	Poll        time.Duration `yaml:"poll"`
	Lease       time.Duration `yaml:"lease"`
	Retention   time.Duration `yaml:"retention"`
	StopTimeout time.Duration `yaml:"stop_timeout"`
	Timeout     time.Duration `yaml:"timeout"`
	Heartbeat   time.Duration `yaml:"heartbeat"`
	LogFormat   string        `yaml:"log_format"`
	backendAuth `yaml:",inline"`
}

// register defines the flags of every setting but the outbox and catalog,
// with their defaults.
func (c *runConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.Backend, "backend", "", "the backend's base URL, e.g. https://api.example.com")
	fs.StringVar(&c.Listen, "listen", "", "serve /healthz and /metrics here, e.g. 127.0.0.1:9090")
	fs.IntVar(&c.Concurrency, "concurrency", outbox.DefaultConcurrency, "deliveries in flight at once at most (1 or more); below it, the limit adapts to the backend's capacity")
	fs.BoolVar(&c.Fixed, "fixed-concurrency", false, "keep --concurrency deliveries in flight whenever events are due, instead of adapting the limit to the backend")
	fs.IntVar(&c.BatchSize, "batch-size", outbox.DefaultBatchSize, "events claimed at once (1 or more)")
	fs.StringVar(&c.BatchRoute, "batch-route", "", "the backend's batch endpoint, e.g. /v1/batch: events are posted --send-batch at a time (see go doc ./runtime/httpsender)")
	fs.IntVar(&c.SendBatch, "send-batch", 100, "with --batch-route, events per batch request at most (a batch is also bounded by --concurrency and --batch-size)")
	fs.DurationVar(&c.Poll, "poll", 30*time.Second, "the safety-net poll interval")
	fs.DurationVar(&c.Lease, "lease", time.Minute, "how long a claim lasts; must exceed --timeout")
	fs.DurationVar(&c.Retention, "retention", 24*time.Hour, "how long completed events are kept")
	fs.DurationVar(&c.StopTimeout, "stop-timeout", 10*time.Second, "on SIGTERM, how long deliveries in flight may finish (a second SIGTERM exits at once)")
	fs.DurationVar(&c.Timeout, "timeout", 15*time.Second, "how long one delivery may take")
	fs.DurationVar(&c.Heartbeat, "heartbeat", 10*time.Second, "how often the processor records that it is alive; status and processors call it dead after three missed")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	c.backendAuth.register(fs)
}

// overlay fills the settings the command line did not give from the YAML
// file at path.
func (c *runConfig) overlay(path string, fs *flag.FlagSet) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read the config: %w", err)
	}
	var file runConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
		return fmt.Errorf("%s: %v (keys are the flags' names with _ for -, e.g. batch_size: 50; a bearer token goes in token_file or token_env, never in this file)", path, err)
	}
	// The keys the file sets, zero or not: a zero it sets is taken, and
	// refused by validate, rather than read as "not set".
	var keys map[string]any
	if err := yaml.Unmarshal(b, &keys); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if v := keys[k]; v == nil || v == "" {
			return fmt.Errorf("%s: %s: has no value; give one, or leave the key out for the default", path, k)
		}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	overlayFields(reflect.ValueOf(c).Elem(), reflect.ValueOf(&file).Elem(), given, keys)
	return nil
}

// overlayFields copies each setting the file has a key for into dst unless
// its flag was given.
func overlayFields(dst, file reflect.Value, given map[string]bool, keys map[string]any) {
	for i := range dst.NumField() {
		f := dst.Type().Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		_, inFile := keys[tag]
		switch {
		case f.Anonymous:
			overlayFields(dst.Field(i), file.Field(i), given, keys)
		case tag == "-" || !f.IsExported():
		case !given[flagName(f, tag)] && inFile:
			dst.Field(i).Set(file.Field(i))
		}
	}
}

// flagName is the flag of a setting: its flag tag, or its YAML key with
// "-" for "_".
func flagName(f reflect.StructField, yamlKey string) string {
	if name := f.Tag.Get("flag"); name != "" {
		return name
	}
	return strings.ReplaceAll(yamlKey, "_", "-")
}

// catalogPath returns the spec or catalog file, as the program reads one
// or the other.
func (c *runConfig) catalogPath(cats Catalogs) (string, error) {
	path, other, otherKey := c.Catalog, c.Spec, "spec"
	if cats.Flag == "spec" {
		path, other, otherKey = c.Spec, c.Catalog, "catalog"
	}
	if other != "" {
		return "", fmt.Errorf("%s: this command reads --%s, %s; it has no use for --%s", otherKey, cats.Flag, cats.What, otherKey)
	}
	return path, nil
}

// validate refuses settings that cannot work, rather than substituting
// defaults for them.
func (c *runConfig) validate() error {
	for _, p := range []struct {
		flag string
		ok   bool
	}{
		{"concurrency", c.Concurrency >= 1},
		{"batch-size", c.BatchSize >= 1},
		{"send-batch", c.SendBatch >= 1},
		{"poll", c.Poll > 0},
		{"timeout", c.Timeout > 0},
		{"retention", c.Retention > 0},
		{"stop-timeout", c.StopTimeout > 0},
	} {
		if !p.ok {
			return fmt.Errorf("--%s (%s: in a config file) must be positive; zero does not stand for the default here: omit the setting to get the default", p.flag, strings.ReplaceAll(p.flag, "-", "_"))
		}
	}
	switch {
	case c.Heartbeat < 100*time.Millisecond:
		return fmt.Errorf("--heartbeat %s: give 100ms or more; every processor writes to the database at each heartbeat", c.Heartbeat)
	case c.Backend == "":
		return errors.New("run needs --backend, the base URL events are posted to")
	case c.Lease <= c.Timeout:
		return fmt.Errorf("--lease (%s) must be longer than --timeout (%s), or a slow delivery loses its lease and is sent twice", c.Lease, c.Timeout)
	case c.LogFormat != "text" && c.LogFormat != "json":
		return fmt.Errorf("--log-format %q: use text or json", c.LogFormat)
	}
	return c.backendAuth.validate()
}
