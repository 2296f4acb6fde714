package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

// The memory measurements: the resident memory of a processor draining a
// large backlog. The bench process holds fill data, pools and templates,
// so the processor runs in a child process of its own, the bench binary
// re-executed with childFlag, which opens the store as an application
// would, runs the default Config until the backlog is delivered, and
// reports the peak of its own RSS.

const groupMemory = "9. Memory: processor peak RSS while draining a pre-filled backlog, default Config, no-op sender"

// childFlag, as the first argument, makes the binary the drain child; the
// second argument is its childSpec in JSON. It is not a flag of the
// command line (flag would list it in -help): only memoryDrain passes it.
const childFlag = "-drain-child"

func memoryDef(store string, n int) def {
	return def{fmt.Sprintf("memory.%s.%d", strings.ToLower(store), n), groupMemory,
		fmt.Sprintf("processor peak RSS, default Config, %s backlog, %s", thousands(int64(n)), store), "MB", false}
}

// memoryLimitMB is the target: a processor stays under it whatever the backlog.
const memoryLimitMB = 100

// memFiller fills the PostgreSQL templates of the memory measurement: a
// label of its own, as templates builds each label's sizes once.
var memFiller = filler{"tmpl_memory", oursFiller.schema, oursFiller.fill}

// childSpec tells the drain child what to drain.
type childSpec struct {
	Store  string        // "PostgreSQL" or "SQLite"
	Target string        // database URL or file path
	Events int           // events in the backlog
	Cap    time.Duration // stop after this, rated on the events done
}

// childResult is the drain child's report, one JSON line on its stdout.
type childResult struct {
	PeakRSS  int64 // bytes: the highest VmRSS sampled, or VmHWM if higher
	Sampled  int64 // bytes: the highest VmRSS of the 100 ms samples
	HWM      int64 // bytes: VmHWM at the end, the kernel's peak
	RSSAnon  int64 // bytes: RssAnon at the sampled peak (heap and stacks)
	RSSFile  int64 // bytes: RssFile at the sampled peak (the binary's pages, mapped files)
	Events   int
	Capped   bool
	Duration time.Duration
}

// memories measures each store's processor RSS, in the first run only:
// filling the backlogs takes minutes, and one figure per store says it.
func (b *bench) memories(ctx context.Context) {
	if b.run != 1 {
		return
	}
	n := b.sizes.MemoryBacklog
	if tm, err := b.templates(ctx, memFiller, n); err != nil {
		b.res.fail(memoryDef("PostgreSQL", n).Name, err)
	} else if dbURL, done, err := b.srv.fresh(ctx, "memory", tm[n]); err != nil {
		b.res.fail(memoryDef("PostgreSQL", n).Name, err)
	} else {
		b.measureMemory(ctx, childSpec{Store: "PostgreSQL", Target: dbURL, Events: n, Cap: b.sizes.MemoryCap})
		done()
	}
	if b.sizes.SkipSQLite {
		return
	}
	dir, err := os.MkdirTemp("", "outboxgen-bench-memory-")
	if err != nil {
		b.res.fail(memoryDef("SQLite", n).Name, err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "outbox.db")
	start := time.Now()
	if err := fillSQLite(ctx, path, n); err != nil {
		b.res.fail(memoryDef("SQLite", n).Name, fmt.Errorf("fill: %w", err))
		return
	}
	b.logf("memory: enqueued %s SQLite events in %s", thousands(int64(n)), time.Since(start).Round(time.Millisecond))
	b.measureMemory(ctx, childSpec{Store: "SQLite", Target: path, Events: n, Cap: b.sizes.MemoryCap})
}

// measureMemory runs the drain child on spec and records its peak RSS.
func (b *bench) measureMemory(ctx context.Context, spec childSpec) {
	d := memoryDef(spec.Store, spec.Events)
	if ctx.Err() != nil {
		return
	}
	res, err := runDrainChild(ctx, spec)
	if err != nil {
		b.res.fail(d.Name, err)
		return
	}
	b.res.add(d, mb(res.PeakRSS))
	if res.Capped {
		b.res.capped(d, res.Events, spec.Events)
	}
	b.logf("%s: %.1f MB (VmHWM %.1f MB, sampled peak %.1f MB: anonymous %.1f, file %.1f); %s events in %s", d.Name, mb(res.PeakRSS),
		mb(res.HWM), mb(res.Sampled), mb(res.RSSAnon), mb(res.RSSFile), thousands(int64(res.Events)), res.Duration.Round(time.Millisecond))
}

func mb(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// runDrainChild re-executes this binary as the drain child and parses its report.
func runDrainChild(ctx context.Context, spec childSpec) (childResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return childResult{}, fmt.Errorf("find the bench binary: %w", err)
	}
	arg, err := json.Marshal(spec)
	if err != nil {
		return childResult{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, childFlag, string(arg))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return childResult{}, fmt.Errorf("drain child: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var res childResult
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil {
		return childResult{}, fmt.Errorf("drain child's report %q: %w", stdout.String(), err)
	}
	return res, nil
}

// runChildIfAsked runs the drain child, and exits when it fails, if the
// arguments ask for it; it reports whether they did. The tests' main calls
// it too, as there the child is the test binary.
func runChildIfAsked() bool {
	if len(os.Args) != 3 || os.Args[1] != childFlag {
		return false
	}
	if err := drainChild(os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "bench: drain child:", err)
		os.Exit(1)
	}
	return true
}

// drainChild is the child's main: it drains the backlog of the spec in
// arg and prints its childResult.
func drainChild(arg string) error {
	var spec childSpec
	if err := json.Unmarshal([]byte(arg), &spec); err != nil {
		return fmt.Errorf("%s: %w", childFlag, err)
	}
	ctx := context.Background()
	var store outbox.Store
	switch spec.Store {
	case "PostgreSQL":
		s, err := pgstore.Open(ctx, spec.Target, 0, pgstore.WithLogger(quiet))
		if err != nil {
			return err
		}
		defer s.Close()
		store = s
	case "SQLite":
		s, err := sqlitestore.Open(ctx, spec.Target)
		if err != nil {
			return err
		}
		defer s.Close()
		store = s
	default:
		return fmt.Errorf("%s: unknown store %q", childFlag, spec.Store)
	}
	c := newCounter(spec.Events)
	obs := &countingObserver{c: c}
	noop := outbox.SenderFunc(func(context.Context, *outbox.Event) (outbox.Receipt, error) { return outbox.Receipt{}, nil })
	// The default Config; the logger only keeps the processor's lines off
	// the report.
	proc, err := outbox.NewProcessor(store, noop, outbox.Config{Logger: quiet, Observer: obs})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var res childResult
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if st, err := readStatus(); err == nil && st["VmRSS"] > res.Sampled {
				res.Sampled, res.RSSAnon, res.RSSFile = st["VmRSS"], st["RssAnon"], st["RssFile"]
			}
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	ran := make(chan error, 1)
	go func() { ran <- proc.Run(runCtx) }()
	drained := c.wait(ctx, start, spec.Cap)
	stop()
	<-sampled
	if err := <-ran; err != nil {
		return fmt.Errorf("processor: %w", err)
	}
	if n := c.failed.Load(); n > 0 {
		return fmt.Errorf("%d outcomes were not deliveries", n)
	}
	st, err := readStatus()
	if err != nil {
		return err
	}
	res.HWM = st["VmHWM"]
	res.PeakRSS = max(res.Sampled, res.HWM)
	res.Events, res.Capped, res.Duration = drained.Done, drained.Capped, drained.Elapsed
	if res.Events == 0 {
		return errors.New("no event was delivered")
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// readStatus reads the memory lines of /proc/self/status, in bytes.
func readStatus() (map[string]int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(rest)
		if !ok || len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		if kb, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
			out[name] = kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read /proc/self/status: %w", err)
	}
	if out["VmRSS"] == 0 {
		return nil, errors.New("no VmRSS in /proc/self/status (not Linux?)")
	}
	return out, nil
}
