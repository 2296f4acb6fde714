package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
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
	old     generator.Files   // the contents a changed file had
	// conflicts are why generate must not touch the tree: files it did
	// not write where it would write, symbolic links on its paths. Each
	// names the path and says how to resolve it.
	conflicts []string
}

func (p *plan) current() bool {
	return len(p.missing)+len(p.changed)+len(p.stale)+len(p.conflicts) == 0
}

// The rules that keep generate from harming a tree it does not own:
//
//   - it writes and removes only files whose first line is the generated
//     code header, and refuses to replace any other (a hand-written file
//     that happens to have a generated file's name);
//   - it looks for stale files only in the folders of the generated
//     package (dirs), never in folders below them, which may hold other
//     packages;
//   - it follows no symbolic link on the way to a file it writes, reads or
//     removes, and works through an os.Root of the spec's folder, so that
//     nothing it does can reach outside it.
//
// compare reads the files of a render from under root, and looks for stale
// generated files in dirs.
func compare(root string, files generator.Files, dirs []string) (*plan, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	p := &plan{diffs: map[string]string{}, old: generator.Files{}}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if c := p.pathConflict(r, name, false); c != "" {
			p.conflicts = append(p.conflicts, c)
			continue
		}
		have, err := r.ReadFile(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			p.missing = append(p.missing, name)
		case err != nil:
			return nil, err
		case bytes.Equal(have, files[name]):
			p.same = append(p.same, name)
		case !generatedByUs(have):
			p.conflicts = append(p.conflicts, fmt.Sprintf("%s exists and was not written by outboxgen (its first line is not %q), "+
				"but the spec generates a file of that name; rename or move your file (or delete it, if it is an old copy), then run generate again",
				name, "// "+generator.Header))
		default:
			p.changed = append(p.changed, name)
			p.old[name] = have
			p.diffs[name] = unifiedDiff(name, have, files[name])
		}
	}
	for _, dir := range dirs {
		if err := p.findStale(r, dir, files); err != nil {
			return nil, fmt.Errorf("look for stale files: %w", err)
		}
	}
	slices.Sort(p.stale)
	p.conflicts = slices.Compact(p.conflicts)
	return p, nil
}

// pathConflict says why the file name (or, with dir, the folder name), or
// a folder on the way to it, cannot be written through; "" if it can.
func (p *plan) pathConflict(r *os.Root, name string, dir bool) string {
	parts := strings.Split(name, "/")
	for i := range parts {
		at := path.Join(parts[:i+1]...)
		folder := dir || i < len(parts)-1
		info, err := r.Lstat(at)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return "" // created when written
		case err != nil:
			return fmt.Sprintf("%s: %v", at, err)
		case info.Mode()&fs.ModeSymlink != 0:
			return fmt.Sprintf("%s is a symbolic link; outboxgen does not write through links, which could lead out of the project; "+
				"replace it with the real file or folder, then run generate again", at)
		case folder && !info.IsDir():
			return fmt.Sprintf("%s is a file, but the generated package needs a folder there; move it, then run generate again", at)
		case !folder && !info.Mode().IsRegular():
			return fmt.Sprintf("%s is not a regular file, but the spec generates a file of that name; move it, then run generate again", at)
		}
	}
	return ""
}

// findStale records the files of dir (not of its subfolders) that carry
// our header and are no longer rendered.
func (p *plan) findStale(r *os.Root, dir string, files generator.Files) error {
	if c := p.pathConflict(r, dir, true); c != "" {
		p.conflicts = append(p.conflicts, c)
		return nil
	}
	entries, err := fs.ReadDir(r.FS(), dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := path.Join(dir, e.Name())
		if _, rendered := files[name]; rendered || !e.Type().IsRegular() {
			continue
		}
		b, err := r.ReadFile(name)
		if err != nil {
			return err
		}
		if generatedByUs(b) {
			p.stale = append(p.stale, name)
		}
	}
	return nil
}

// apply makes the disk match the render: writes missing and changed files,
// removes stale ones. Files that are already right are not touched, so
// their modification times (and build caches) survive. A plan with
// conflicts is not applied at all.
func (p *plan) apply(root string, files generator.Files) error {
	if len(p.conflicts) > 0 {
		return errors.New("the plan has conflicts") // callers report them first
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	for _, name := range slices.Concat(p.missing, p.changed) {
		if err := r.MkdirAll(path.Dir(name), 0o755); err != nil {
			return err
		}
		if err := r.WriteFile(name, files[name], 0o644); err != nil {
			return err
		}
	}
	for _, name := range p.stale {
		if err := r.Remove(name); err != nil {
			return err
		}
	}
	return nil
}

// generatedByUs reports whether b's first line is our header, in any
// comment syntax ("// …" in Go, "-- …" in SQL).
func generatedByUs(b []byte) bool {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return bytes.HasSuffix(bytes.TrimSpace(line), []byte(generator.Header))
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
