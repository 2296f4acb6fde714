package spec

import (
	"bytes"
	"fmt"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestZZExp(t *testing.T) {
	for _, s := range []string{
		"a: b: c\n",
		"a:\n  - x\n y: 2\n",
		"a: [1, 2\n",
		"a:\n\tb: 1\n",
		"x: *nope\n",
		"a: 'unterminated\nb: 2\n",
		"a: 1\n---\nb: 2\n",
		"a: !!binary aGVsbG8=\nb: !foo x\nc: !!str 5\n",
		"\x01a: 1\n",
		"a: 1\n\x01\n",
		"key: \"\\q\"\n",
		"---\n",
		"# only\n",
		"a: 1\n...\n",
		"? [a]\n: b\n",
		"<<: {a: 1}\n",
		"a: &x 1\nb: *x\n",
		"%YAML 1.1\n---\na: 1\n",
		"a: @x\n",
		"- a\nb: 1\n",
		"a: 1\n  b: 2\n",
		"a:\n  b: 1\n c: 2\n",
		"a: {b: 1\n",
		"\xef\xbb\xbfa: 1\n",
		"a: 0x1F\nb: 1_000\nc: 0o17\nd: .inf\ne: 1e3\nf: +5\ng: 017\nh: 99999999999999999999\n",
	} {
		d := yaml.NewDecoder(bytes.NewReader([]byte(s)))
		var n yaml.Node
		err := d.Decode(&n)
		fmt.Printf("%q\n   err=%v\n", s, err)
		if err == nil {
			dump(&n, "   ")
			var n2 yaml.Node
			err2 := d.Decode(&n2)
			fmt.Printf("   second: err=%v kind=%v line=%d\n", err2, n2.Kind, n2.Line)
		}
	}
}

func dump(n *yaml.Node, ind string) {
	fmt.Printf("%skind=%v tag=%q style=%v val=%q anchor=%q %d:%d\n", ind, n.Kind, n.Tag, n.Style, n.Value, n.Anchor, n.Line, n.Column)
	for _, c := range n.Content {
		dump(c, ind+"  ")
	}
}
