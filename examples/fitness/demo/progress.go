package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/outboxgen/outboxgen/examples/fitness/backend"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

// progress shows the outbox draining: on a terminal a bar redrawn in place,
// elsewhere a plain line whenever the numbers change (at most once a second).
type progress struct {
	out   io.Writer
	live  bool
	store outbox.Store
	be    *backend.Server

	mu      sync.Mutex
	last    string
	printed time.Time
	drawn   bool // a live line is on screen

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func startProgress(ctx context.Context, out io.Writer, live bool, store outbox.Store, be *backend.Server) *progress {
	ctx, cancel := context.WithCancel(ctx)
	p := &progress{out: out, live: live, store: store, be: be, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(150 * time.Millisecond)
		defer tick.Stop()
		for {
			p.draw(ctx, false)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// note prints a line of narration above the progress.
func (p *progress) note(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.out, "%s  %s\n", time.Now().Format("15:04:05"), text)
}

// stop draws the final state and ends the display.
func (p *progress) stop() {
	p.once.Do(func() {
		p.cancel()
		<-p.done
		p.draw(context.Background(), true)
		p.mu.Lock()
		if p.drawn {
			fmt.Fprintln(p.out)
			p.drawn = false
		}
		p.mu.Unlock()
	})
}

func (p *progress) clear() {
	if p.live && p.drawn {
		fmt.Fprint(p.out, "\r\033[K")
		p.drawn = false
	}
}

func (p *progress) draw(ctx context.Context, final bool) {
	st, err := p.store.Stats(ctx)
	if err != nil {
		return
	}
	c := st.Counts
	total := c[outbox.StatusPending] + c[outbox.StatusProcessing] + c[outbox.StatusFailed] + c[outbox.StatusCompleted] + c[outbox.StatusDead]
	backendState := "up"
	if !p.be.IsUp() {
		backendState = "DOWN"
	}
	line := fmt.Sprintf("delivered %d/%d  pending %d  retrying %d  in flight %d  dead %d  backend %s",
		c[outbox.StatusCompleted], total, c[outbox.StatusPending], c[outbox.StatusFailed], c[outbox.StatusProcessing], c[outbox.StatusDead], backendState)

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live {
		p.clear()
		fmt.Fprintf(p.out, "%s %s", bar(c[outbox.StatusCompleted], total, 24), line)
		p.drawn = true
		return
	}
	if line != p.last && (final || time.Since(p.printed) >= time.Second) {
		fmt.Fprintf(p.out, "%s  %s\n", time.Now().Format("15:04:05"), line)
		p.last, p.printed = line, time.Now()
	}
}

func bar(done, total int64, width int) string {
	filled := 0
	if total > 0 {
		filled = int(done * int64(width) / total)
	}
	return "[" + strings.Repeat("█", filled) + strings.Repeat("░", width-filled) + "]"
}
