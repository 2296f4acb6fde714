package main

import (
	"encoding/json"
	"errors"
	"io"

	"github.com/outboxgen/outboxgen/generator/spec"
)

// genReport is what generate or check did or found, in the form -json
// prints for CI and editors. Paths are relative to the spec's folder.
type genReport struct {
	Spec string `json:"spec"`
	// Files counts the files the spec generates; 0 when it has errors.
	Files int `json:"files"`
	// Current is whether the tree matched the spec before the command
	// ran: nothing to write or remove.
	Current bool `json:"current"`
	// Written and Removed are what generate did.
	Written []string `json:"written,omitempty"`
	Removed []string `json:"removed,omitempty"`
	// Changed, Missing and Stale are what check found out of date.
	Changed []string `json:"changed,omitempty"`
	Missing []string `json:"missing,omitempty"`
	Stale   []string `json:"stale,omitempty"`
	// Conflicts are files generate will not touch (see tree.go).
	Conflicts []string `json:"conflicts,omitempty"`
	// Warnings are what generate wrote but wants read, e.g. a changed
	// dedupe window.
	Warnings []string `json:"warnings,omitempty"`
	// Problems are the spec's errors, or the error that stopped the
	// command.
	Problems []problem `json:"problems,omitempty"`
}

// problem is one error: a spec's has a file and, mostly, a position.
type problem struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

// problemsOf lists err's problems: one per spec error, or err itself.
func problemsOf(err error) []problem {
	var errs spec.Errors
	if !errors.As(err, &errs) {
		return []problem{{Message: err.Error()}}
	}
	out := make([]problem, len(errs))
	for i, e := range errs {
		out[i] = problem{File: e.File, Line: e.Pos.Line, Column: e.Pos.Col, Message: e.Msg}
	}
	return out
}

func (r *genReport) print(w io.Writer) error { return printJSON(w, r) }

// printJSON writes v as indented JSON, the form of every -json report.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
