package ops

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestUIRefusesAReachableAddressWithoutAuth(t *testing.T) {
	db := filepath.Join(t.TempDir(), "app.db")
	if code, _, stderr := runCLI(t, "migrate", "--db", db, "--catalog", testCatalog); code != 0 {
		t.Fatalf("migrate: %d %s", code, stderr)
	}
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0", "db.internal:8089"} {
		code, _, stderr := runCLI(t, "ui", "--db", db, "--listen", listen)
		if code != 2 || !strings.Contains(stderr, "--basic-auth-file or --bearer-token-file") {
			t.Errorf("ui --listen %s without auth: exit %d, stderr %q; want 2 and a request for credentials", listen, code, stderr)
		}
	}
	short := filepath.Join(t.TempDir(), "auth")
	if err := os.WriteFile(short, []byte("ops:short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "ui", "--db", db, "--basic-auth-file", short); code != 2 || !strings.Contains(stderr, "8 characters") {
		t.Errorf("ui with a short password: exit %d, stderr %q", code, stderr)
	}
	if code, _, _ := runCLI(t, "ui", "--db", db, "--basic-auth", "a:bcdefghij", "--bearer-token", "0123456789abcdef0"); code != 2 {
		t.Errorf("ui with two kinds of auth: exit %d, want 2", code)
	}
}

func TestUIServesTheConsoleBehindAuth(t *testing.T) {
	eachOpsStore(t, func(t *testing.T, f opsFixture) {
		const password = "correct-horse-battery"
		authFile := filepath.Join(t.TempDir(), "console-auth")
		if err := os.WriteFile(authFile, []byte("ops:"+password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		addr := make(chan string, 1)
		var logs bytes.Buffer
		e := &env{Ctx: ctx, Stdout: io.Discard, Stderr: &logs, Stdin: eofReader{}, Now: time.Now, Listening: func(a string) { addr <- a }}
		done := make(chan int, 1)
		go func() {
			done <- testProgram().Run(e, append(append([]string{"ui"}, f.flags...), "--listen", "127.0.0.1:0", "--basic-auth-file", authFile))
		}()
		var base string
		select {
		case a := <-addr:
			base = "http://" + a
		case code := <-done:
			t.Fatalf("ui exited %d:\n%s", code, logs.String())
		}
		get := func(withAuth bool, path string) (int, string) {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", base+path, nil)
			if withAuth {
				req.SetBasicAuth("ops", password)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if code, _ := get(false, "/"); code != http.StatusUnauthorized {
			t.Errorf("GET / without credentials: %d, want 401", code)
		}
		code, body := get(true, "/events?status=dead")
		if code != http.StatusOK || !strings.Contains(body, f.ids["dead"].String()) || !strings.Contains(body, "read-only") {
			t.Errorf("GET /events?status=dead: %d, want 200 listing the dead event on a read-only console:\n%s", code, body)
		}
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("ui exited %d after its context ended, want 0", code)
		}
		log := logs.String()
		if !strings.Contains(log, "console serving") || !strings.Contains(log, "auth=basic") {
			t.Errorf("the start line does not say how the console is protected:\n%s", log)
		}
		if strings.Contains(log, password) || strings.Contains(log, "private") {
			t.Errorf("the log holds the password or a payload:\n%s", log)
		}
	})
}
