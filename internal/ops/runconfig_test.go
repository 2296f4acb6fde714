package ops

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parseRun(t *testing.T, file string, args ...string) (*runConfig, error) {
	t.Helper()
	var c runConfig
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "run.yaml")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	return &c, c.overlay(path, fs)
}

func TestRunConfigFileAndFlags(t *testing.T) {
	c, err := parseRun(t, "backend: https://file.example\nconcurrency: 4\nlease: 2m\ntoken_file: /run/token\nheaders:\n  x-api-key: k\nclient_cert: c.pem\nclient_key: k.pem\n",
		"--concurrency", "8", "--header", "X-Tenant: t1")
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case c.Backend != "https://file.example", c.Lease != 2*time.Minute, c.TokenFile != "/run/token", c.ClientCert != "c.pem":
		t.Errorf("the file's settings were not taken: %+v", c)
	case c.Concurrency != 8:
		t.Errorf("the flag did not win over the file: concurrency %d", c.Concurrency)
	case c.Headers["X-Tenant"] != "t1" || len(c.Headers) != 1:
		t.Errorf("--header given: the file's headers must not be merged in: %v", c.Headers)
	case c.Poll != 30*time.Second:
		t.Errorf("a default was lost: poll %s", c.Poll)
	}
	if err := c.validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
}

func TestRunConfigRefusals(t *testing.T) {
	if _, err := parseRun(t, "token: abc\n"); err == nil || !strings.Contains(err.Error(), "token_file or token_env") || strings.Contains(err.Error(), "abc") {
		t.Errorf("a token in the file: %v", err)
	}
	for file, want := range map[string]string{
		"backend: https://x\nconcurrency: 0\n":                            "concurrency: in a config file) must be positive", // never silently the default
		"backend: https://x\nbatch_size: 0\n":                             "--batch-size",
		"backend: https://x\npoll: 0s\n":                                  "--poll",
		"backend: https://x\nheartbeat: 1ns\n":                            "--heartbeat 1ns: give 100ms or more",
		"backend: https://x\ntoken_file: f\ntoken_env: T\n":               "not both",
		"backend: https://x\nclient_cert: c.pem\n":                        "both --client-cert and --client-key",
		"backend: https://x\ntls_min_version: \"1.1\"\n":                  "use 1.2 or 1.3",
		"backend: https://x\ntoken_env: T\nheaders: {authorization: x}\n": "drop one",
	} {
		c, err := parseRun(t, file)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.validate(); want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", file, err, want)
		}
	}
	// A key with no value is refused by name, not read as an empty path.
	for _, file := range []string{"backend: https://x\ncatalog:\n", "backend: https://x\ncatalog: \"\"\n"} {
		if _, err := parseRun(t, file); err == nil || !strings.Contains(err.Error(), "catalog: has no value; give one, or leave the key out") {
			t.Errorf("%q: %v", file, err)
		}
	}
	c, _ := parseRun(t, "backend: https://x\n", "--concurrency", "0")
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), "--concurrency (concurrency: in a config file) must be positive") {
		t.Errorf("--concurrency 0: %v", err)
	}
}

func TestRunConfigCatalogKeys(t *testing.T) {
	ctl := Catalogs{Flag: "catalog", What: "the catalog"}
	c, err := parseRun(t, "catalog: c.json\n")
	if err != nil {
		t.Fatal(err)
	}
	if path, err := c.catalogPath(ctl); err != nil || path != "c.json" {
		t.Errorf("catalog key: %q %v", path, err)
	}
	c, err = parseRun(t, "spec: metrics.yaml\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.catalogPath(ctl); err == nil || !strings.Contains(err.Error(), "no use for --spec") {
		t.Errorf("a spec given to a command that reads catalogs: %v", err)
	}
}
