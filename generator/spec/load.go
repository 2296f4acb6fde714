package spec

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"

	"go.yaml.in/yaml/v3"
)

// MaxFileBytes bounds the size of a spec. A real one is a page or two of
// YAML; anything near this size is the wrong file, and the bound keeps a
// hostile file from costing much memory or time.
const MaxFileBytes = 1 << 20

// Load reads and validates the spec file at path. Errors are spec.Errors.
func Load(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Errors{readError(path, err)}
	}
	defer f.Close()
	// One byte past the limit is enough for Parse to tell the file is too
	// big, without reading the rest of it.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, Errors{readError(path, err)}
	}
	return Parse(path, data)
}

func readError(path string, err error) *Error {
	reason := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		reason = pe.Err.Error() // the path is already at the start of the line
	}
	msg := "cannot read the spec: " + reason
	if errors.Is(err, fs.ErrNotExist) {
		msg += `; run "outboxgen init" to write a starter metrics.yaml`
	}
	return &Error{File: path, Msg: msg, cause: err}
}

// Parse validates data as the contents of file (file is only used in messages).
func Parse(file string, data []byte) (*Spec, error) {
	w := &walker{file: file}
	root := w.document(data)
	if root == nil {
		return nil, w.errs.Sorted()
	}
	s := w.spec(root)
	if len(w.errs) > 0 {
		return nil, w.errs.Sorted()
	}
	s.File = file
	return s, nil
}

// emptyMsg is the answer to every way of writing nothing at all.
const emptyMsg = `the spec is empty; run "outboxgen init" to write a starter metrics.yaml`

// document checks everything that is about YAML rather than about metrics and
// returns the top-level mapping, or nil after reporting why there is none.
// Problems found here stop the check: past a syntax error or an alias the
// tree does not mean what the author meant, and guessing would only add
// misleading errors.
func (w *walker) document(data []byte) *yaml.Node {
	if !w.plainText(data) {
		return nil
	}
	docs, err := decodeAll(data)
	switch {
	case errors.Is(err, errParserPanic):
		w.errorf(fileStart, "%s", err.Error())
		return nil
	case err != nil:
		w.syntaxError(err, data)
		return nil
	case len(docs) == 0 || len(docs[0].Content) == 0:
		w.errorf(fileStart, emptyMsg)
		return nil
	case len(docs) > 1:
		w.errorf(docs[1], `the spec must be a single YAML document, but a second one starts here; remove this "---" line and everything after it, or merge it into the first document`)
		return nil
	}
	root := docs[0].Content[0]
	if w.plainYAML(root); len(w.errs) > 0 {
		return nil
	}
	switch {
	case root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null":
		w.errorf(fileStart, emptyMsg)
		return nil
	case root.Kind != yaml.MappingNode:
		w.errorf(root, "the spec must be a mapping with the keys version, package, dialects and metrics, got %s", got(root))
		return nil
	}
	return root
}

// fileStart is where problems with the file as a whole are reported.
var fileStart = &yaml.Node{Line: 1, Column: 1}

// plainText checks what can be checked before parsing: size, emptiness and
// encoding. The parser would report the last two without a position.
func (w *walker) plainText(data []byte) bool {
	if len(data) > MaxFileBytes {
		w.errorf(fileStart, "the spec is larger than %d bytes (1 MiB), far more than any list of metrics needs; check that this is the right file", MaxFileBytes)
		return false
	}
	if len(bytes.TrimSpace(data)) == 0 {
		w.errorf(fileStart, emptyMsg)
		return false
	}
	if at, ok := invalidUTF8(data); !ok {
		w.errorf(at, "the file is not UTF-8 text; save it as UTF-8")
		return false
	}
	if at, r, ok := controlChar(data); ok {
		w.errorf(at, "the file contains the control character %U, which YAML does not allow; remove it", r)
		return false
	}
	return true
}

// errParserPanic marks a panic inside the YAML parser. The fuzz test looks
// for its text, so a parser bug shows up there instead of being hidden by the
// recover that keeps it from ever reaching a user as a stack trace.
var errParserPanic = errors.New("the YAML reader failed on this file; please report this as a bug in outboxgen, with the file")

// decodeAll returns every document in data, stopping at the first syntax
// error. It stops at two documents: one is all a spec may have, and the second
// is only needed to say so.
func decodeAll(data []byte) (docs []*yaml.Node, err error) {
	defer func() {
		if recover() != nil {
			docs, err = nil, errParserPanic
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for len(docs) < 2 {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &doc)
	}
	return docs, nil
}
