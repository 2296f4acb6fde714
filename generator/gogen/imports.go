package gogen

import (
	"bytes"
	"go/format"
	"strings"
)

// groupImports splits the import block into the standard library and the
// rest, as goimports would; jennifer writes one sorted block.
func groupImports(src []byte) ([]byte, error) {
	start := bytes.Index(src, []byte("\nimport (\n"))
	if start < 0 {
		return src, nil
	}
	start += len("\nimport (\n")
	end := bytes.Index(src[start:], []byte("\n)\n"))
	if end < 0 {
		return src, nil
	}
	var std, other []string
	for _, line := range strings.Split(string(src[start:start+end]), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		path := line[strings.Index(line, `"`)+1:]
		if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
			other = append(other, "\t"+line)
		} else {
			std = append(std, "\t"+line)
		}
	}
	block := strings.Join(std, "\n")
	if len(std) > 0 && len(other) > 0 {
		block += "\n\n"
	}
	block += strings.Join(other, "\n")
	out := append([]byte{}, src[:start]...)
	out = append(out, block...)
	out = append(out, src[start+end:]...)
	return format.Source(out)
}
