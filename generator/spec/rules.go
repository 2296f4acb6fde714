package spec

import (
	"path"
	"regexp"
	"strings"
	"time"
	// Time zones must load the same on every machine, including minimal
	// containers without /usr/share/zoneinfo.
	_ "time/tzdata"

	"go.yaml.in/yaml/v3"
)

// Rules for the values that are names of things outside the spec: event
// types, HTTP routes, Go packages and directories, time zones.

var (
	eventTypeRE   = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)
	packageNameRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	// dirNameRE is what a directory of package.path may be called: it ends
	// up in a Go import path when import_path is left out.
	dirNameRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	importPathRE = regexp.MustCompile(`^[A-Za-z0-9_.~+-]+(/[A-Za-z0-9_.~+-]+)*$`)
)

// Length limits for values stored in database columns or sent in headers.
const (
	maxEventTypeLen   = 100
	maxRouteLen       = 200
	maxDescriptionLen = 500
	maxUnitLen        = 50
)

// eventType reads an event type such as "weight.created".
func (w *walker) eventType(n *yaml.Node, subject string) (string, bool) {
	s, ok := w.text(n, subject, maxEventTypeLen)
	if ok && !eventTypeRE.MatchString(s) {
		w.errorf(n, `%s must be lowercase words joined by ".", like "weight.created" (letters, digits and "_", each word starting with a letter), got %s`, subject, show(s))
		return "", false
	}
	return s, ok
}

// route reads an HTTP path such as "/v1/weight". A route prefix follows the
// same rules.
func (w *walker) route(n *yaml.Node, subject string) (string, bool) {
	s, ok := w.text(n, subject, maxRouteLen)
	switch {
	case !ok:
	case !strings.HasPrefix(s, "/"):
		w.errorf(n, `%s must start with "/", got %s; try %q`, subject, show(s), "/"+s)
	case strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		w.errorf(n, `%s must not contain spaces or other blank characters, got %s`, subject, show(s))
	case strings.ContainsAny(s, "?#"):
		w.errorf(n, `%s must be a plain path without "?" or "#", got %s`, subject, show(s))
	default:
		return s, true
	}
	return "", false
}

// packageName reads a Go package name.
func (w *walker) packageName(n *yaml.Node, subject string) (string, bool) {
	s, ok := w.text(n, subject, maxNameLen)
	switch {
	case !ok:
	case !packageNameRE.MatchString(s):
		w.errorf(n, `%s must be a lowercase letter followed by lowercase letters and digits (no "_" or "-"), like "metrics", got %s`, subject, show(s))
	case goKeywords[s]:
		w.errorf(n, `%s %s is a reserved word in Go, the language of the generated code; choose another, like "metrics"`, subject, show(s))
	case s == "main":
		w.errorf(n, `%s "main" names a program, which nothing can import; choose another, like "metrics"`, subject)
	default:
		return s, true
	}
	return "", false
}

// packagePath reads the output directory: relative to the spec's own
// directory and inside it, so that a spec can never make the generator
// write somewhere else on the machine.
func (w *walker) packagePath(n *yaml.Node, subject string) (string, bool) {
	s, ok := w.text(n, subject, 0)
	if !ok {
		return "", false
	}
	switch {
	case s == "":
		w.errorf(n, `%s is empty; give the folder to write the code to, like "internal/metrics"`, subject)
	case strings.Contains(s, `\`):
		w.errorf(n, `%s must separate folders with "/", not backslashes, got %s`, subject, show(s))
	case strings.HasPrefix(s, "/"):
		w.errorf(n, `%s must be relative to the spec file's folder, got %s; remove the leading "/"`, subject, show(s))
	case hasElem(s, ".."):
		w.errorf(n, `%s must stay inside the spec file's folder, got %s; remove ".."`, subject, show(s))
	default:
		for elem := range strings.SplitSeq(s, "/") {
			if elem != "" && !dirNameRE.MatchString(elem) {
				w.errorf(n, `%s may only use letters, digits, "-", "_" and "." in folder names, got %s`, subject, show(s))
				return "", false
			}
		}
		return path.Clean(s), true
	}
	return "", false
}

// hasElem reports whether the slash-separated path p has elem as one of its
// parts.
func hasElem(p, elem string) bool {
	for e := range strings.SplitSeq(p, "/") {
		if e == elem {
			return true
		}
	}
	return false
}

// importPath reads a Go import path such as "example.com/app/metrics".
func (w *walker) importPath(n *yaml.Node, subject string) (string, bool) {
	s, ok := w.text(n, subject, 0)
	if ok && (!importPathRE.MatchString(s) || hasElem(s, ".") || hasElem(s, "..")) {
		w.errorf(n, `%s must be a Go import path like "example.com/app/metrics" (letters, digits, ".", "-", "_", "~" and "+", folders joined by "/"), got %s`, subject, show(s))
		return "", false
	}
	return s, ok
}

// timeZone reads an IANA time zone name such as "Europe/Paris". The message
// for an unknown zone leaves out the subject: the zone name says it all.
func (w *walker) timeZone(n *yaml.Node, subject string) (string, bool) {
	s, ok := w.text(n, subject, 0)
	if ok && !w.knownZone(s) {
		w.errorf(n, `time zone %s is not a known IANA zone, e.g. "UTC" or "Europe/Paris"`, show(s))
		return "", false
	}
	return s, ok
}

// knownZone reports whether name is a zone that loads the same everywhere.
// "" and "Local" load too, but mean the machine's own zone, which differs
// from one machine to the next.
func (w *walker) knownZone(name string) bool {
	if name == "" || name == "Local" {
		return false
	}
	if known, seen := w.zones[name]; seen {
		return known
	}
	_, err := time.LoadLocation(name)
	if w.zones == nil {
		w.zones = map[string]bool{}
	}
	w.zones[name] = err == nil
	return err == nil
}
