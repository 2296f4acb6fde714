package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// Server is a PostgreSQL server of a test's own, in a temporary directory,
// which the test may restart without disturbing anyone else's tests.
type Server struct {
	t       testing.TB
	pgCtl   string
	dataDir string
	options string
	port    int
	asUser  []string // runuser prefix when running as root
}

// NewServer initialises and starts a private server, stopped and removed
// when t ends. It skips t (or fails it under CI=true) when the PostgreSQL
// server binaries are not installed.
func NewServer(t testing.TB) *Server {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		unavailable(t, fmt.Errorf("no initdb under /usr/lib/postgresql/*/bin"))
	}
	binDir := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "outboxgen-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, pgCtl: filepath.Join(binDir, "pg_ctl"), dataDir: filepath.Join(dir, "data")}
	// PostgreSQL refuses to run as root: run it as the postgres user.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(t, fmt.Errorf("running as root and there is no postgres user: %w", err))
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		s.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	t.Cleanup(func() {
		_ = s.run("-D", s.dataDir, "-m", "immediate", "stop")
		os.RemoveAll(dir)
	})
	if err := s.runBin(filepath.Join(binDir, "initdb"), "-D", s.dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("pgtest: initdb: %v", err)
	}
	s.port = freePort(t)
	s.options = fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", s.port, dir)
	if err := s.run("-D", s.dataDir, "-o", s.options, "-l", filepath.Join(dir, "log"), "-w", "start"); err != nil {
		t.Fatalf("pgtest: start: %v", err)
	}
	return s
}

// URL returns the URL of the server's postgres database.
func (s *Server) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Restart stops the server (fast: open connections are cut) and starts it
// again on the same port.
func (s *Server) Restart() error {
	return s.run("-D", s.dataDir, "-o", s.options, "-l", filepath.Join(filepath.Dir(s.dataDir), "log"), "-m", "fast", "-w", "restart")
}

// Stop stops the server (fast: open connections are cut) until Start.
func (s *Server) Stop() error {
	return s.run("-D", s.dataDir, "-m", "fast", "-w", "stop")
}

// Start starts a server that Stop stopped, on the same port.
func (s *Server) Start() error {
	return s.run("-D", s.dataDir, "-o", s.options, "-l", filepath.Join(filepath.Dir(s.dataDir), "log"), "-w", "start")
}

func (s *Server) run(args ...string) error { return s.runBin(s.pgCtl, args...) }

func (s *Server) runBin(bin string, args ...string) error {
	argv := append(append(append([]string{}, s.asUser...), bin), args...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
