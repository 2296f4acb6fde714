package spec

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a spec, at a position.
type Error struct {
	// File is the spec's path as given to Load or Parse.
	File string
	// Pos is where the problem is; zero when it concerns the file as a
	// whole and has no place in it (for example a file that cannot be read).
	Pos Pos
	// Msg says what is wrong and, where it can, how to fix it.
	Msg string

	cause error
}

// Error formats e as "FILE:LINE:COL: msg", the form editors and CI
// annotations jump to, or "FILE: msg" when e has no position.
func (e *Error) Error() string {
	if e.Pos.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// Unwrap returns the underlying error, if any: Load keeps the operating
// system's error so that callers can test it with errors.Is (for example
// against fs.ErrNotExist).
func (e *Error) Unwrap() error { return e.cause }

// Errors is every problem found in a spec, sorted by position; it implements
// error, one problem per line.
type Errors []*Error

// Error returns one line per problem.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, err := range e {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is and errors.As look at each problem.
func (e Errors) Unwrap() []error {
	errs := make([]error, len(e))
	for i, err := range e {
		errs[i] = err
	}
	return errs
}

// maxErrors bounds the problems reported at once. A file that is wrong
// everywhere (say, some other YAML file passed by mistake) would otherwise
// print thousands of lines that all say the same thing.
const maxErrors = 50

// Sorted returns the problems in file order, cut to maxErrors with a last
// line saying how many more there are.
func (e Errors) Sorted() Errors {
	sort.SliceStable(e, func(i, j int) bool {
		a, b := e[i].Pos, e[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	if len(e) <= maxErrors {
		return e
	}
	more := &Error{
		File: e[maxErrors].File,
		Pos:  e[maxErrors].Pos,
		Msg:  fmt.Sprintf("too many problems: %d more from here on are not shown; fix the ones above and run again", len(e)-maxErrors),
	}
	return append(e[:maxErrors:maxErrors], more)
}
