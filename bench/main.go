package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// quiet discards the logs of everything measured.
var quiet = slog.New(slog.DiscardHandler)

// sizes are the knobs of one benchmark run.
type sizes struct {
	SaveWarm, SaveDur  time.Duration // per save measurement
	Backlog            int           // events of the no-op drain
	SmallBacklog       int           // events of the steady drains toward a backend of limited capacity, and of the receiver's measurement
	DrainCap           time.Duration // a drain still running after this is stopped and rated on what it did
	SlowCap            time.Duration // the cap of River at MaxWorkers 100 and its default FetchCooldown, whose rate that cooldown bounds at 1,000/s
	CapacityCap        time.Duration // the cap of the steady drains toward a backend of limited capacity (-only capacity)
	Outage             time.Duration // how long that backend refuses everything before the drain after an outage
	LatencyRate        int           // saves per second
	LatencyWarm        time.Duration // not counted
	LatencyDur         time.Duration // counted
	BigSpec            int           // metrics of the synthesized spec
	ScrapeRows         []int         // completed events of the scraped outboxes (-only scrape)
	SQLiteBacklogs     []int         // events of the SQLite drains, smallest first
	MemoryBacklog      int           // events of the drains whose processor RSS is measured
	MemoryCap          time.Duration // the cap of those drains
	SkipGenerate       bool          // leave the generator out
	SkipSQLite, Silent bool          // test knobs
}

// fullSizes are the defaults: 30 to 45 minutes with 3 runs on 2 cores,
// the capacity measurements and the memory drains (some 12) included.
var fullSizes = sizes{
	SaveWarm: 300 * time.Millisecond, SaveDur: 5 * time.Second,
	Backlog: 100_000, SmallBacklog: 50_000, DrainCap: 30 * time.Second, SlowCap: 5 * time.Second,
	CapacityCap: 12 * time.Second, Outage: 3 * time.Second,
	LatencyRate: 500, LatencyWarm: time.Second, LatencyDur: 10 * time.Second,
	BigSpec: 200, ScrapeRows: []int{1_000_000, 10_000_000}, SQLiteBacklogs: []int{5_000, 50_000, 500_000},
	MemoryBacklog: 1_000_000, MemoryCap: 15 * time.Minute, // the default Config drained 1M in 9 minutes under load
}

// quickSizes are a smoke run of about 3½ minutes (1½ of them the
// capacity measurements, whose caps and outage are real time).
var quickSizes = sizes{
	SaveWarm: 200 * time.Millisecond, SaveDur: time.Second,
	Backlog: 10_000, SmallBacklog: 5_000, DrainCap: 15 * time.Second, SlowCap: 5 * time.Second,
	CapacityCap: 8 * time.Second, Outage: 2 * time.Second,
	LatencyRate: 500, LatencyWarm: 500 * time.Millisecond, LatencyDur: 3 * time.Second,
	BigSpec: 200, ScrapeRows: []int{100_000, 1_000_000}, SQLiteBacklogs: []int{2_000, 10_000, 50_000},
	MemoryBacklog: 100_000, MemoryCap: 3 * time.Minute,
}

func (s sizes) String() string {
	scrapes := make([]string, len(s.ScrapeRows))
	for i, n := range s.ScrapeRows {
		scrapes[i] = thousands(int64(n))
	}
	return fmt.Sprintf("saves %s each after %s warm-up; no-op and HTTP backlogs %s events, steady capacity drains and receiver %s events, drains capped at %s (River at MaxWorkers 100: %s; steady drains toward a backend of limited capacity: %s; an outage of %s before the drain after it); latency at %d/s for %s after %s warm-up; synthesized spec of %d metrics; scrapes at %s completed events; processor RSS draining %s events (capped at %s)",
		s.SaveDur, s.SaveWarm, thousands(int64(s.Backlog)), thousands(int64(s.SmallBacklog)), s.DrainCap, s.SlowCap, s.CapacityCap, s.Outage, s.LatencyRate, s.LatencyDur, s.LatencyWarm, s.BigSpec,
		strings.Join(scrapes, " and "), thousands(int64(s.MemoryBacklog)), s.MemoryCap)
}

// bench is one benchmark run: the server, the sizes, and what was measured.
type bench struct {
	srv        *server
	sizes      sizes
	res        *results
	repo       string // the outboxgen repository
	profileDir string // where CPU profiles go; "" for none
	run        int    // 1-based index of the current run
	log        io.Writer

	tmplMu sync.Mutex
	tmpl   map[string]map[int]string // filler label → size → template database

	gen    *generator
	genErr error
}

func newBench(srv *server, sz sizes, repo string, log io.Writer) *bench {
	return &bench{srv: srv, sizes: sz, res: newResults(), repo: repo, log: log, tmpl: map[string]map[int]string{}}
}

// logf reports progress on the log writer.
func (b *bench) logf(format string, args ...any) {
	if b.log != nil {
		fmt.Fprintf(b.log, "[%s run %d] %s\n", time.Now().Format("15:04:05"), b.run, fmt.Sprintf(format, args...))
	}
}

// runAll runs every measurement runs times, interleaved, so that a slow
// spell of the machine touches every system rather than one.
func (b *bench) runAll(ctx context.Context, runs int) {
	for r := 1; r <= runs && ctx.Err() == nil; r++ {
		b.run = r
		b.saves(ctx)
		b.backlogs(ctx)
		b.httpDeliveries(ctx)
		b.capacities(ctx)
		b.receivers(ctx)
		b.latencies(ctx)
		if !b.sizes.SkipSQLite {
			b.sqlites(ctx)
		}
		if !b.sizes.SkipGenerate {
			b.generation(ctx)
		}
	}
	// Once, last: the resident memory of a processor does not vary from
	// run to run as rates do, and its 1M-event fills are the longest part.
	b.run = 1
	b.memories(ctx)
}

// close drops the template databases and removes temporary files.
func (b *bench) close(ctx context.Context) {
	if b.gen != nil {
		b.gen.close()
	}
	if err := b.srv.close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench: cleanup:", err)
	}
}

func main() {
	if runChildIfAsked() {
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	runs := flag.Int("runs", 3, "how many times to run each measurement (min/median/max are reported); -quick defaults to 1")
	quick := flag.Bool("quick", false, "smoke run with small sizes (about 3½ minutes)")
	write := flag.Bool("write", false, "rewrite the results section of docs/BENCHMARKS.md")
	repo := flag.String("repo", "..", "the outboxgen repository (for docs/BENCHMARKS.md and the generator)")
	profile := flag.String("profile", "", "write CPU profiles of the outboxgen drains into this directory")
	diagnose := flag.String("diagnose", "", "instead of benchmarking, write evidence for the analysis into this directory: the save's decomposition and what-ifs, EXPLAIN (ANALYZE, BUFFERS) of the processor's queries on a full backlog, CPU profiles of drains, the cost of delivered hooks")
	consoleEvents := flag.Int("console", 0, consoleUsage)
	only := flag.String("only", "", "comma-separated subset to run: save,backlog,http,capacity,receiver,latency,generate,sqlite,memory,scrape (memory runs in the first run only, scrape only when named; with -diagnose: save,whatif,plans,drains,hooks,half)")
	flag.Parse()

	sz := fullSizes
	if *quick {
		sz = quickSizes
		if !flagSet("runs") {
			*runs = 1
		}
	}
	if *runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	repoDir, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(repoDir, "runtime", "pgstore", "queries.sql")); err != nil {
		return fmt.Errorf("-repo %s does not look like the outboxgen repository: %w", repoDir, err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := newServer(ctx, adminURL())
	if err != nil {
		return err
	}
	info, err := describeServer(ctx, adminURL())
	if err != nil {
		return err
	}
	b := newBench(srv, sz, repoDir, os.Stderr)
	defer b.close(context.WithoutCancel(ctx))
	if *profile != "" {
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			return err
		}
		b.profileDir = *profile
	}
	if *consoleEvents > 0 {
		return b.consoleMeasure(ctx, *consoleEvents, 20, os.Stdout)
	}
	if *diagnose != "" {
		var parts []string
		if *only != "" {
			parts = strings.Split(*only, ",")
		}
		return b.diagnose(ctx, *diagnose, parts)
	}

	h := header{
		Command: "cd bench && go run . " + strings.Join(os.Args[1:], " "),
		Started: time.Now(), Runs: *runs, Quick: *quick, Machine: describeMachine(), Server: info, Sizes: sz,
		Warnings: busyWarnings(),
	}
	h.Command = strings.TrimSpace(h.Command)
	for _, w := range h.Warnings {
		fmt.Fprintln(os.Stderr, "bench: warning:", w)
	}
	if *only != "" {
		b.runOnly(ctx, *runs, strings.Split(*only, ","))
	} else {
		b.runAll(ctx, *runs)
	}
	h.Took = time.Since(h.Started)
	b.res.writeText(os.Stdout, h)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	if *write {
		path := filepath.Join(repoDir, "docs", "BENCHMARKS.md")
		if err := writeDoc(path, b.res.markdown(h)); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "bench: wrote", path)
	}
	if len(b.res.failures) > 0 {
		return fmt.Errorf("%d measurement(s) failed", len(b.res.failures))
	}
	return nil
}

// runOnly runs a subset of the measurements.
func (b *bench) runOnly(ctx context.Context, runs int, parts []string) {
	steps := map[string]func(context.Context){
		"save": b.saves, "backlog": b.backlogs, "http": b.httpDeliveries, "capacity": b.capacities, "receiver": b.receivers, "latency": b.latencies, "generate": b.generation,
		"scrape": b.scrapes, "sqlite": b.sqlites, "memory": b.memories,
	}
	for r := 1; r <= runs && ctx.Err() == nil; r++ {
		b.run = r
		for _, p := range parts {
			if step, ok := steps[strings.TrimSpace(p)]; ok {
				step(ctx)
			} else {
				b.res.fail("-only", fmt.Errorf("unknown part %q; use save, backlog, http, capacity, receiver, latency, generate, sqlite, memory or scrape", p))
				return
			}
		}
	}
}

// flagSet reports whether the named flag was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// busyWarnings names processes that would distort the measurements: fuzzers
// and other test binaries left running.
func busyWarnings() []string {
	var ws []string
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	self := os.Getpid()
	for _, p := range cmdlines {
		pid := filepath.Base(filepath.Dir(p))
		if pid == fmt.Sprint(self) {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		cmd := strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
		if strings.Contains(cmd, "-test.fuzz") || strings.Contains(cmd, " -fuzz ") {
			ws = append(ws, fmt.Sprintf("a fuzzer was running during the benchmark (pid %s: %.80s)", pid, cmd))
		}
	}
	return ws
}
