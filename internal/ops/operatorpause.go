package ops

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"time"

	"github.com/outboxgen/outboxgen/internal/cli"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

func pauseCommand() cli.Command {
	return cli.Command{
		Name:    "pause",
		Summary: "stop delivery of every event type, or of one, until resume; nothing is spent or dies meanwhile",
		Usage:   "--reason TEXT [--type T] [--by NAME] [--json]",
		Example: "pause --db app.db --reason \"backend migration until 14:00\"\n" +
			"pause --database-url postgres://ops@db/app --type weight.created --reason \"weight route returns 500s, INC-123\"",
		Setup: func(fs *flag.FlagSet) cli.Action {
			var t target
			t.register(fs)
			eventType := fs.String("type", "", "pause only this event type (default: every type)")
			reason := fs.String("reason", "", "why delivery is paused, for whoever finds it so (required)")
			by := fs.String("by", operator(), "who pauses")
			asJSON := fs.Bool("json", false, "print the pause as JSON, for machines")
			return func(e *env, args []string) error {
				switch {
				case len(args) > 0:
					return cli.Usagef("takes no arguments, got %q; name a type with --type", args[0])
				case *reason == "":
					return cli.Usagef("needs --reason \"…\": say why delivery is paused, for whoever finds it so")
				case *by == "":
					return cli.Usagef("--by is empty: say who pauses")
				}
				o, err := t.open(e, false)
				if err != nil {
					return err
				}
				defer o.Close()
				if err := o.Pause(e.Ctx, outbox.Pause{EventType: *eventType, By: *by, Reason: *reason}); err != nil {
					return fmt.Errorf("pause delivery in %s: %w", o.Where, err)
				}
				ps, err := o.Pauses(e.Ctx)
				if err != nil {
					return fmt.Errorf("read the pauses of %s: %w", o.Where, err)
				}
				var p pauseJSON
				for _, q := range ps {
					if q.EventType == *eventType {
						p = toPauseJSON(q)
					}
				}
				if *asJSON {
					return printJSON(e, map[string]any{"verb": "pause", "where": o.Where, "pause": p})
				}
				resume := e.Program + " resume"
				if *eventType != "" {
					resume += " --type " + clean(*eventType)
				}
				fmt.Fprintf(e.Stdout, "paused delivery of %s in %s: processors claim none of those events (deliveries under way finish).\nResume with \"%s\".\n",
					p.what(), o.Where, resume)
				return nil
			}
		},
	}
}

func resumeCommand() cli.Command {
	return cli.Command{
		Name:    "resume",
		Summary: "lift operators' pauses: every pause, or one type's; processors deliver at once",
		Usage:   "[--type T] [--json]",
		Example: "resume --db app.db\nresume --database-url postgres://ops@db/app --type weight.created",
		Setup: func(fs *flag.FlagSet) cli.Action {
			var t target
			t.register(fs)
			eventType := fs.String("type", "", "lift only this event type's pause (default: every pause)")
			asJSON := fs.Bool("json", false, "print what was lifted as JSON, for machines")
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return cli.Usagef("takes no arguments, got %q; name a type with --type", args[0])
				}
				o, err := t.open(e, false)
				if err != nil {
					return err
				}
				defer o.Close()
				lifted, err := o.Resume(e.Ctx, *eventType)
				if err != nil {
					return fmt.Errorf("resume delivery in %s: %w", o.Where, err)
				}
				left, err := o.Pauses(e.Ctx)
				if err != nil {
					return fmt.Errorf("read the pauses of %s: %w", o.Where, err)
				}
				if *asJSON {
					return printJSON(e, map[string]any{"verb": "resume", "where": o.Where, "lifted": toPausesJSON(lifted), "still_paused": toPausesJSON(left)})
				}
				now := e.Now()
				switch {
				case len(lifted) == 0 && *eventType == "":
					fmt.Fprintln(e.Stdout, "nothing to resume: no pause was in force")
				case len(lifted) == 0:
					fmt.Fprintf(e.Stdout, "nothing to resume: %s was not paused on its own\n", clean(*eventType))
				}
				for _, p := range toPausesJSON(lifted) {
					fmt.Fprintf(e.Stdout, "resumed delivery of %s (paused %s)\n", p.what(), p.held(now))
				}
				printPauses(e.Stdout, toPausesJSON(left), now, "still paused:         ", e.Program)
				return nil
			}
		},
	}
}

// pauseJSON is an operator's pause as the commands and /healthz show it.
type pauseJSON struct {
	// EventType is empty when every type is paused.
	EventType string    `json:"event_type,omitempty"`
	EveryType bool      `json:"every_type"`
	By        string    `json:"by"`
	Reason    string    `json:"reason"`
	Since     time.Time `json:"since"`
}

func toPauseJSON(p outbox.Pause) pauseJSON {
	return pauseJSON{EventType: p.EventType, EveryType: p.Every(), By: p.By, Reason: p.Reason, Since: p.Since.UTC()}
}

func toPausesJSON(ps []outbox.Pause) []pauseJSON {
	out := make([]pauseJSON, len(ps))
	for i, p := range ps {
		out[i] = toPauseJSON(p)
	}
	return out
}

// what names what the pause stops, for people.
func (p pauseJSON) what() string {
	if p.EventType == "" {
		return "every event type"
	}
	return clean(p.EventType)
}

// held says who paused, how long ago and why.
func (p pauseJSON) held(now time.Time) string {
	return fmt.Sprintf("by %s %s ago: %s", clean(p.By), age(now.Sub(p.Since)), truncate(p.Reason, 100))
}

// printPauses lists the pauses in force, each line after label, with how
// to lift them.
func printPauses(w io.Writer, ps []pauseJSON, now time.Time, label, program string) {
	for _, p := range ps {
		how := program + " resume"
		if p.EventType != "" {
			how += " --type " + clean(p.EventType)
		}
		fmt.Fprintf(w, "%s%s, %s; \"%s\" lifts it\n", label, p.what(), p.held(now), how)
	}
}

// operator names the person running the command, as user@host, for the
// record of who paused delivery.
func operator() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	switch {
	case name == "":
		return host
	case host == "":
		return name
	}
	return name + "@" + host
}
