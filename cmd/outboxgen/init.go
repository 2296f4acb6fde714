package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

//go:embed starter.yaml
var starter []byte

// toolPackage is this command's package, as go get -tool takes it.
const toolPackage = ownModule + "/cmd/outboxgen"

func runInit(e *env, args []string) int {
	stdout, stderr := e.stdout, e.stderr
	flags := flag.NewFlagSet("init", flag.ContinueOnError)
	flags.SetOutput(stderr)
	specPath := flags.String("spec", "metrics.yaml", "where to write the starter spec")
	force := flags.Bool("force", false, "overwrite an existing spec")
	asJSON := flags.Bool("json", false, "print what was written and what to do next as JSON")
	if err := flags.Parse(args); err != nil {
		return exitUsage
	}
	mode := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		mode = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	if err := writeFile(*specPath, starter, mode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			err = fmt.Errorf("%s already exists; edit it, or pass -force to replace it with the starter", *specPath)
		}
		if *asJSON {
			return e.printReport(&genReport{Spec: *specPath, Problems: problemsOf(err)}, exitFail)
		}
		fmt.Fprintf(stderr, "outboxgen: %v\n", err)
		return exitFail
	}
	// The go:generate line runs the generator the way this init was run,
	// when that was through the go command; a binary on one person's PATH
	// is not something a team's go generate can count on.
	command := e.self
	if !strings.HasPrefix(command, "go ") {
		command = "go tool outboxgen"
	}
	directive := "//go:generate " + command + " generate" + specFlag(filepath.Base(*specPath))
	rep := initReport{Spec: *specPath, Directive: directive, DirectiveFile: directiveFile(filepath.Dir(*specPath), directive)}
	if strings.HasPrefix(command, "go tool ") && !strings.HasPrefix(e.self, "go tool ") {
		rep.Next = append(rep.Next, "go get -tool "+toolPackage+"   # once per module; see the README for what it adds to go.mod")
	}
	rep.Next = append(rep.Next, "edit "+*specPath+", then: go generate ./...")
	if *asJSON {
		if err := printJSON(stdout, rep); err != nil {
			fmt.Fprintf(stderr, "outboxgen: %v\n", err)
			return exitFail
		}
		return exitOK
	}
	fmt.Fprintf(stdout, "wrote %s\n", rep.Spec)
	fmt.Fprintln(stdout, rep.DirectiveFile)
	fmt.Fprintln(stdout, "Next:")
	for _, step := range rep.Next {
		fmt.Fprintf(stdout, "  %s\n", step)
	}
	return exitOK
}

// initReport is what init did, and what to do next; -json prints it.
type initReport struct {
	Spec      string `json:"spec"`
	Directive string `json:"directive"`
	// DirectiveFile says where the go:generate line is: written, already
	// there, or to be added by hand.
	DirectiveFile string   `json:"directive_file"`
	Next          []string `json:"next"`
}

// generateFile is the Go file init writes for the go:generate line: go
// generate runs the lines of Go files in the folder of the spec, and a
// project's spec often sits where no Go file is (the module's root).
const generateFile = "generate.go"

// directiveFile makes sure a Go file in dir has the go:generate line, and
// says what it did.
func directiveFile(dir, directive string) string {
	if file := findDirective(dir); file != "" {
		return fmt.Sprintf("%s already has a //go:generate line for outboxgen; check that it runs %q", filepath.Join(dir, file), directive)
	}
	target := filepath.Join(dir, generateFile)
	src := fmt.Sprintf("package %s\n\n// The code generated from the spec next to this file is made by go generate.\n\n%s\n", packageNameIn(dir), directive)
	if err := writeFile(target, []byte(src), os.O_WRONLY|os.O_CREATE|os.O_EXCL); err != nil {
		return fmt.Sprintf("add this line to a Go file in %s (%s: %v):\n  %s", dir, target, err, directive)
	}
	return fmt.Sprintf("wrote %s with the line %s", target, directive)
}

// outboxgenDirective is a go:generate line that runs outboxgen, however.
var outboxgenDirective = regexp.MustCompile(`(?m)^//go:generate .*outboxgen`)

// findDirective returns the Go file of dir that has a go:generate line
// mentioning outboxgen, if one has.
func findDirective(dir string) string {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil && outboxgenDirective.Match(b) {
			return e.Name()
		}
	}
	return ""
}

// packageNameIn is the package of the Go files in dir, or, with none, a
// name made from the last element of dir's import path.
func packageNameIn(dir string) string {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.PackageClauseOnly)
		if err == nil {
			return f.Name.Name
		}
	}
	name := ""
	if importPath, err := importPathOf(dir); err == nil {
		name = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, strings.ToLower(path.Base(importPath)))
	}
	if name == "" || name[0] >= '0' && name[0] <= '9' || token.IsKeyword(name) {
		return "app"
	}
	return name
}

func writeFile(path string, b []byte, flags int) error {
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
