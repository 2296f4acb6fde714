package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// NotifyContext returns a context that ends at the first SIGINT or SIGTERM,
// so that a command can stop gracefully (a daemon lets the deliveries in
// flight finish). A second signal exits the process at once with status
// 128 + the signal's number, as a shell reports a killed command. stop
// releases the signals.
func NotifyContext(parent context.Context, program string, stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			fmt.Fprintf(stderr, "%s: %s: stopping; send it again to exit at once\n", program, sig)
			cancel()
		case <-done:
			return
		}
		select {
		case sig := <-sigs:
			fmt.Fprintf(stderr, "%s: %s again: exiting at once\n", program, sig)
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

// Main runs p as the process: with its arguments, standard streams and
// signals (see [NotifyContext]), and exits with the verb's status.
func Main(p *Program) {
	ctx, stop := NotifyContext(context.Background(), p.Name, os.Stderr)
	e := &Env{Ctx: ctx, Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin, Now: time.Now, Terminal: isTerminal(os.Stdout) && isTerminal(os.Stdin)}
	code := p.Run(e, os.Args[1:])
	stop()
	os.Exit(code)
}

func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
