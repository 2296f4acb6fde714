package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// NotifyContext returns a context that ends at the first SIGINT or SIGTERM,
// so that a command can stop gracefully (a daemon lets the deliveries in
// flight finish). A second signal exits the process at once with status
// 128 + the signal's number, as a shell reports a killed command. What it
// does is said through say. stop releases the signals.
func NotifyContext(parent context.Context, say func(msg string)) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			say(fmt.Sprintf("%s: stopping; send it again to exit at once", sig))
			cancel()
		case <-done:
			return
		}
		select {
		case sig := <-sigs:
			say(fmt.Sprintf("%s again: exiting at once", sig))
			os.Exit(128 + int(sig.(syscall.Signal)))
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// sayer says what the signal handling does: on standard error, until a
// daemon routes it to its log.
type sayer struct {
	program string
	stderr  io.Writer
	to      atomic.Pointer[func(string)]
}

func (s *sayer) say(msg string) {
	if to := s.to.Load(); to != nil {
		(*to)(msg)
		return
	}
	fmt.Fprintf(s.stderr, "%s: %s\n", s.program, msg)
}

// Main runs p as the process: with its arguments, standard streams and
// signals (see [NotifyContext]), and exits with the verb's status.
func Main(p *Program) {
	s := &sayer{program: p.Name, stderr: os.Stderr}
	ctx, stop := NotifyContext(context.Background(), s.say)
	e := &Env{Ctx: ctx, Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin, Now: time.Now, Terminal: isTerminal(os.Stdout) && isTerminal(os.Stdin),
		LogSignals: func(log func(string)) { s.to.Store(&log) }}
	code := p.Run(e, os.Args[1:])
	stop()
	os.Exit(code)
}

func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
