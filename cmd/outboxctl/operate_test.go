package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// The operator's verbs through the real binary, on both stores: a pause
// recorded with who and why and shown by status, its resume, and a bulk
// retry of more dead events than one batch, counted exactly.
func TestPauseResumeAndBulkRetry(t *testing.T) {
	eachStore(t, func(t *testing.T, o outboxOn) {
		if r := ctl(t, o.with("pause", "--type", "weight.created", "--reason", "INC-42: weight route down", "--by", "ada")...); r.code != 0 {
			t.Fatalf("pause: %s", r)
		}
		r := ctl(t, o.with("status", "--json")...)
		var st struct {
			OperatorPauses []struct {
				EventType string `json:"event_type"`
				By        string `json:"by"`
				Reason    string `json:"reason"`
			} `json:"operator_pauses"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st.OperatorPauses) != 1 ||
			st.OperatorPauses[0].EventType != "weight.created" || st.OperatorPauses[0].By != "ada" || st.OperatorPauses[0].Reason != "INC-42: weight route down" {
			t.Fatalf("status --json after pause: %v %s", err, r)
		}
		if r := ctl(t, o.with("resume")...); r.code != 0 || !strings.Contains(r.stdout, "resumed delivery of weight.created (paused by ada") {
			t.Fatalf("resume: %s", r)
		}

		const n = 600
		evs := make([]outbox.Event, n)
		for i := range evs {
			evs[i] = weightEvent("ada")
		}
		o.enqueue(evs...)
		killAll(t, o)
		r = ctl(t, o.with("retry", "--all-dead", "--json")...)
		var rep struct{ Selected, Done, Skipped, Remaining int64 }
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || rep.Selected != n || rep.Done != n || rep.Remaining != 0 {
			t.Fatalf("retry --all-dead --json: %v %s", err, r)
		}
		if st, err := o.store.Stats(t.Context()); err != nil || st.Counts[outbox.StatusPending] != n || st.Counts[outbox.StatusDead] != 0 {
			t.Fatalf("after the bulk retry: %v %v", st.Counts, err)
		}
	})
}

// show lists an event's latest failed attempts, bounded, oldest first, each
// with its class and status code, then its delivery; a delivered event
// keeps no last error.
func TestShowAttemptHistory(t *testing.T) {
	eachStore(t, func(t *testing.T, o outboxOn) {
		failures := outbox.MaxHistory + 2
		ev := weightEvent("ada")
		ev.MaxAttempts = failures + 1
		ev = o.enqueue(ev)[0]
		for i := range failures {
			claimed, err := o.store.Claim(t.Context(), "test", 1, time.Minute)
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim %d: %d %v", i+1, len(claimed), err)
			}
			out := outbox.Outcome{Event: claimed[0], Kind: outbox.Retry, Class: outbox.Unavailable, StatusCode: 503, Error: fmt.Sprintf("POST /v1/weights: 503 try %d", i+1)}
			if i%2 == 1 {
				out.Class, out.StatusCode, out.Error = outbox.Transient, 500, fmt.Sprintf("POST /v1/weights: 500 try %d", i+1)
			}
			if _, err := o.store.Finish(t.Context(), []outbox.Outcome{out}); err != nil {
				t.Fatal(err)
			}
		}
		claimed, err := o.store.Claim(t.Context(), "test", 1, time.Minute)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("last claim: %d %v", len(claimed), err)
		}
		if _, err := o.store.Finish(t.Context(), []outbox.Outcome{{Event: claimed[0], Kind: outbox.Delivered}}); err != nil {
			t.Fatal(err)
		}

		r := ctl(t, o.with("show", ev.ID.String())...)
		if r.code != 0 {
			t.Fatalf("show: %s", r)
		}
		rows := regexp.MustCompile(`(?m)^\S+ +(\d+) +retried +(\S+) +(\d+) +POST /v1/weights: \d+ try (\d+)$`).FindAllStringSubmatch(r.stdout, -1)
		if len(rows) != outbox.MaxHistory {
			t.Fatalf("show lists %d failed attempts, want the latest %d:\n%s", len(rows), outbox.MaxHistory, r.stdout)
		}
		for k, row := range rows {
			try := failures - outbox.MaxHistory + k + 1
			class, status := "unavailable", "503"
			if try%2 == 0 {
				class, status = "transient", "500"
			}
			if row[1] != strconv.Itoa(try) || row[2] != class || row[3] != status || row[4] != strconv.Itoa(try) {
				t.Errorf("attempt row %d = %q, want attempt %d, %s, %s", k, row[0], try, class, status)
			}
		}
		if !strings.Contains(r.stdout, "latest failed attempts (at most 10 are kept), oldest first:") ||
			!regexp.MustCompile(`(?m)^\S+ +`+strconv.Itoa(failures+1)+` +delivered +- +- +-$`).MatchString(r.stdout) ||
			!regexp.MustCompile(`(?m)^last error +-$`).MatchString(r.stdout) {
			t.Errorf("show of a delivered event with failures:\n%s", r.stdout)
		}
		r = ctl(t, o.with("show", ev.ID.String(), "--json")...)
		var shown struct {
			LastError string `json:"last_error"`
			History   []struct {
				Attempt    int    `json:"attempt"`
				Class      string `json:"class"`
				StatusCode int    `json:"status_code"`
			} `json:"history"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || len(shown.History) != outbox.MaxHistory || shown.LastError != "" ||
			shown.History[0].Attempt != failures-outbox.MaxHistory+1 || shown.History[0].StatusCode == 0 || shown.History[0].Class == "" {
			t.Errorf("show --json: %v %s", err, r)
		}
	})
}

// On a terminal, a bulk repair shows a progress line per batch on stderr,
// and a destructive one asks first, naming the count, and goes ahead on
// "y".
func TestBulkRepairOnATerminal(t *testing.T) {
	eachStore(t, func(t *testing.T, o outboxOn) {
		n := 600 // more than one batch
		evs := make([]outbox.Event, n)
		for i := range evs {
			evs[i] = weightEvent("ada")
		}
		o.enqueue(evs...)
		killAll(t, o)

		r := onTerminal(t, "", o.with("retry", "--all-dead")...)
		if r.code != 0 || !strings.Contains(r.stdout, "retried 600 of 600 selected event(s); none remain") {
			t.Fatalf("retry --all-dead on a terminal: %s", r)
		}
		if !regexp.MustCompile(`^(\rretry: \d+ of 600 done)*\rretry: 600 of 600 done\n$`).MatchString(r.stderr) || !strings.Contains(r.stderr, "\rretry: 500 of 600 done") {
			t.Errorf("retry's progress on stderr = %q, want a line rewritten per batch", r.stderr)
		}

		r = onTerminal(t, "y\n", o.with("discard", "--status", "pending")...)
		if r.code != 0 || !strings.Contains(r.stdout, "discarded 600 of 600 selected event(s); none remain") {
			t.Fatalf("discard on a terminal, answered y: %s", r)
		}
		if !strings.Contains(r.stderr, "discard 600 pending event(s) in ") || !strings.Contains(r.stderr, " for good? [y/N] ") ||
			!strings.HasSuffix(r.stderr, "\rdiscard: 600 of 600 done\n") {
			t.Errorf("discard's prompt and progress on stderr = %q", r.stderr)
		}
		if st, err := o.store.Stats(t.Context()); err != nil || st.Counts[outbox.StatusPending] != 0 {
			t.Fatalf("after the discard: %v %v", st.Counts, err)
		}
	})
}

// killAll claims every event and records it dead.
func killAll(t *testing.T, o outboxOn) {
	t.Helper()
	for {
		claimed, err := o.store.Claim(t.Context(), "test", 250, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(claimed) == 0 {
			return
		}
		outs := make([]outbox.Outcome, len(claimed))
		for i, ev := range claimed {
			outs[i] = outbox.Outcome{Event: ev, Kind: outbox.Dead, Error: "permanent: 422"}
		}
		if _, err := o.store.Finish(t.Context(), outs); err != nil {
			t.Fatal(err)
		}
	}
}

// onTerminal runs the binary with its standard input and output on a
// pseudo-terminal, typing input, and its standard error on a pipe of its
// own, so that what it writes there can be told from the terminal's echo.
func onTerminal(t *testing.T, input string, args ...string) result {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL=")
	var errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds it now
	if _, err := ptmx.WriteString(input); err != nil {
		t.Fatal(err)
	}
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = io.Copy(&screen, ptmx) // ends with EIO once the child has exited
	}()
	err = cmd.Wait()
	<-read
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code: code, stdout: strings.ReplaceAll(screen.String(), "\r\n", "\n"), stderr: errOut.String()}
}
