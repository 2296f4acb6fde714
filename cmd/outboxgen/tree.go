package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/outboxgen/outboxgen/generator"
)

// plan says how the files on disk differ from a render. Paths are slash
// paths relative to the spec's directory.
type plan struct {
	missing []string          // rendered, not on disk
	changed []string          // on disk with other contents
	same    []string          // on disk as rendered
	stale   []string          // on disk with our header, no longer rendered
	diffs   map[string]string // unified diff per changed file
}

func (p *plan) current() bool { return len(p.missing)+len(p.changed)+len(p.stale) == 0 }

// compare reads the files of a render from under root, and looks for stale
// generated files in the directories the render writes to.
func compare(root string, files generator.Files) (*plan, error) {
	p := &plan{diffs: map[string]string{}}
	dirs := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		dirs[filepath.Dir(filepath.FromSlash(name))] = true
		have, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			p.missing = append(p.missing, name)
		case err != nil:
			return nil, err
		case bytes.Equal(have, files[name]):
			p.same = append(p.same, name)
		default:
			p.changed = append(p.changed, name)
			p.diffs[name] = unifiedDiff(name, have, files[name])
		}
	}
	// Stale files can only be in the package's directories: look at the
	// top one, which holds the others.
	top := ""
	for dir := range dirs {
		if top == "" || len(dir) < len(top) {
			top = dir
		}
	}
	err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if _, ok := files[rel]; ok {
			return nil
		}
		ours, err := generatedByUs(path)
		if ours {
			p.stale = append(p.stale, rel)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("look for stale files: %w", err)
	}
	slices.Sort(p.stale)
	return p, nil
}

// apply makes the disk match the render: writes missing and changed files,
// removes stale ones. Files that are already right are not touched, so
// their modification times (and build caches) survive.
func (p *plan) apply(root string, files generator.Files) error {
	for _, name := range slices.Concat(p.missing, p.changed) {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
	}
	for _, name := range p.stale {
		if err := os.Remove(filepath.Join(root, filepath.FromSlash(name))); err != nil {
			return err
		}
	}
	return nil
}

// generatedByUs reports whether the file's first line is our header, in
// any comment syntax ("// …" in Go, "-- …" in SQL).
func generatedByUs(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	return strings.HasSuffix(strings.TrimSpace(line), generator.Header), nil
}

func unifiedDiff(name string, have, want []byte) string {
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(string(have)),
		B:        difflib.SplitLines(string(want)),
		FromFile: name + " (on disk)",
		ToFile:   name + " (generated)",
		Context:  3,
	})
	if err != nil {
		return err.Error() + "\n"
	}
	return d
}
