package spec

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The YAML parser's errors are terse, positioned by line only (and that line
// is not always the one to look at). This file turns them into messages
// with positions and hints, and finds the problems it reports without any
// position at all.

var (
	// The parser prefixes its messages with "yaml: " and, when it knows it,
	// "line N: " (it never knows the column).
	yamlErrorRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)
	// The one parser message that quotes the file; it is rewritten so that
	// only our own quoting of user text ever reaches a message.
	unknownAnchorRE = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
)

// syntaxError reports an error from the YAML parser at FILE:LINE:1.
func (w *walker) syntaxError(err error, data []byte) {
	m := yamlErrorRE.FindStringSubmatch(err.Error())
	if m == nil {
		w.errorf(fileStart, "the file is not valid YAML: %s", err.Error())
		return
	}
	line, _ := strconv.Atoi(m[1])
	msg := m[2]
	if hint, ok := parserErrors[msg]; ok {
		// Parser errors (as opposed to scanner errors) count lines from
		// zero: the line they give is the one before the block they are
		// about.
		line++
		msg += hint
	}
	// The parser omits the line for problems on the first one.
	line = min(max(line, 1), bytes.Count(data, []byte("\n"))+1)
	at := &yaml.Node{Line: line, Column: 1}
	if a := unknownAnchorRE.FindStringSubmatch(msg); a != nil {
		at = positionOf(data, "*"+a[1])
		w.errorf(at, "the alias %q refers to no anchor; anchors and aliases are not supported, write the value out in full", "*"+a[1])
		return
	}
	if strings.Contains(msg, "cannot start any token") && indentedWithTab(data, line) {
		msg += "; indent with spaces, YAML does not allow tabs there"
	}
	if msg == "mapping values are not allowed in this context" {
		msg += `; put quotes around text that contains ": "`
	}
	w.errorf(at, "the file is not valid YAML: %s", msg)
}

// parserErrors are the messages of the YAML parser proper (the scanner
// gives the others), with a hint on the likely cause.
var parserErrors = map[string]string{
	"did not find expected key":              "; check the indentation of this block and the lines below it",
	"did not find expected '-' indicator":    "; check the indentation of this list and the lines below it",
	"did not find expected ',' or ']'":       `; a list opened with "[" here is not closed, or an item in it needs quotes`,
	"did not find expected ',' or '}'":       `; a mapping opened with "{" here is not closed, or a value in it needs quotes`,
	"did not find expected node content":     "",
	"did not find expected <document start>": "",
	"found undefined tag handle":             "",
	"found duplicate %YAML directive":        "",
	"found incompatible YAML document":       "",
	"found duplicate %TAG directive":         "",
}

// invalidUTF8 finds the first byte that is not UTF-8. The parser would say
// so without a position.
func invalidUTF8(data []byte) (*yaml.Node, bool) {
	if utf8.Valid(data) {
		return nil, true
	}
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return offsetNode(data, i), false
		}
		i += size
	}
	return nil, true // unreachable: utf8.Valid said there is a bad byte
}

// controlChar finds the first character YAML rejects as non-printable, which
// the parser reports without a position.
func controlChar(data []byte) (*yaml.Node, rune, bool) {
	for i, r := range string(data) {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		case r == utf8.RuneError: // cannot happen after invalidUTF8; let the parser judge
		case r == 0xFEFF: // a byte order mark is allowed
		case unicode.IsControl(r) || r == 0xFFFE || r == 0xFFFF:
			return offsetNode(data, i), r, true
		}
	}
	return nil, 0, false
}

// positionOf finds the first occurrence of s in data, or the start of the
// file if it is not there.
func positionOf(data []byte, s string) *yaml.Node {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return fileStart
	}
	return offsetNode(data, i)
}

// offsetNode converts a byte offset to a 1-based line and column, counting
// columns in characters as the parser does.
func offsetNode(data []byte, offset int) *yaml.Node {
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	col := utf8.RuneCount(before[lineStart:]) + 1
	return &yaml.Node{Line: line, Column: col}
}

// indentedWithTab reports whether the 1-based line starts with whitespace
// that contains a tab.
func indentedWithTab(data []byte, line int) bool {
	lines := bytes.Split(data, []byte("\n"))
	if line < 1 || line > len(lines) {
		return false
	}
	l := lines[line-1]
	indent := l[:len(l)-len(bytes.TrimLeft(l, " \t"))]
	return bytes.IndexByte(indent, '\t') >= 0
}
