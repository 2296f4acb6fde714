package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
)

//go:embed starter.yaml
var starter []byte

func runInit(e *env, args []string) int {
	stdout, stderr := e.stdout, e.stderr
	flags := flag.NewFlagSet("init", flag.ContinueOnError)
	flags.SetOutput(stderr)
	specPath := flags.String("spec", "metrics.yaml", "where to write the starter spec")
	force := flags.Bool("force", false, "overwrite an existing spec")
	if err := flags.Parse(args); err != nil {
		return exitUsage
	}
	mode := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		mode = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	if err := writeFile(*specPath, starter, mode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			fmt.Fprintf(stderr, "outboxgen: %s already exists; edit it, or pass -force to replace it with the starter\n", *specPath)
		} else {
			fmt.Fprintf(stderr, "outboxgen: %v\n", err)
		}
		return exitFail
	}
	fmt.Fprintf(stdout, "wrote %s. Next:\n", *specPath)
	fmt.Fprintln(stdout, "  go get -tool github.com/outboxgen/outboxgen/cmd/outboxgen")
	fmt.Fprintln(stdout, "  add to a Go file next to it:  //go:generate go tool outboxgen generate")
	fmt.Fprintln(stdout, "  go generate ./...")
	return exitOK
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
