package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
)

// importPathOf returns the Go import path of dir (which need not exist yet),
// from the nearest go.mod above it.
func importPathOf(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		module, err := modulePath(filepath.Join(d, "go.mod"))
		if err == nil {
			rel, err := filepath.Rel(d, abs)
			if err != nil {
				return "", err
			}
			return path.Join(module, filepath.ToSlash(rel)), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%s is not inside a Go module: run \"go mod init\" above it, or set package.import_path in the spec", dir)
		}
	}
}

// modulePath reads the module directive of a go.mod file.
func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			rest, _, _ = strings.Cut(rest, "//")
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s has no module directive", gomod)
}

// invokedAs is the command that runs this program again the way the user
// ran it, for messages that say what to run next.
func invokedAs() string {
	info, _ := debug.ReadBuildInfo()
	wd, _ := os.Getwd()
	return invocation(os.Args[0], info, wd)
}

// ownModule is the module this command is part of.
const ownModule = "github.com/outboxgen/outboxgen"

// invocation is invokedAs for a program started as args0, built as info,
// run in folder wd. A binary the go command built for the occasion (go
// run, go tool) lives in its build cache or a temporary go-build folder:
// then the command to repeat is the go command's. Any other binary is
// repeated as it was typed.
func invocation(args0 string, info *debug.BuildInfo, wd string) string {
	if info == nil || info.Path == "" || !builtByGoCommand(args0) {
		return args0
	}
	switch {
	case info.Main.Path != ownModule && hasTool(wd, info.Path):
		return "go tool " + path.Base(info.Path) // a tool of the application's module
	case info.Main.Path != ownModule:
		return "go run " + info.Path // a dependency of the application's module
	case info.Main.Version != "" && info.Main.Version != "(devel)":
		return "go run " + info.Path + "@" + info.Main.Version
	}
	return "go run " + info.Path // inside this repository
}

// cachedExe matches an executable in the go command's build cache:
// GOCACHE/xx/<hash>-d/name.
var cachedExe = regexp.MustCompile(`[/\\][0-9a-f]{2}[/\\][0-9a-f]{64}-d[/\\][^/\\]+$`)

func builtByGoCommand(exe string) bool {
	return cachedExe.MatchString(exe) || strings.Contains(filepath.ToSlash(exe), "/go-build")
}

// hasTool reports whether the go.mod of the module wd is in declares pkg
// as a tool (a "tool" directive, Go 1.24).
func hasTool(wd, pkg string) bool {
	for d := wd; d != ""; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			return toolDirective(string(b), pkg)
		}
		if filepath.Dir(d) == d {
			return false
		}
	}
	return false
}

// toolDirective reports whether gomod has "tool pkg", alone or in a block.
func toolDirective(gomod, pkg string) bool {
	inBlock := false
	for line := range strings.Lines(gomod) {
		line, _, _ = strings.Cut(line, "//")
		fields := strings.Fields(line)
		switch {
		case inBlock && len(fields) == 1 && fields[0] == ")":
			inBlock = false
		case inBlock && len(fields) == 1 && fields[0] == pkg:
			return true
		case len(fields) == 2 && fields[0] == "tool" && fields[1] == "(":
			inBlock = true
		case len(fields) == 2 && fields[0] == "tool" && fields[1] == pkg:
			return true
		}
	}
	return false
}
