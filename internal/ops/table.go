package ops

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// table prints aligned columns: the first left-aligned, numbers (cells
// that parse as such) right-aligned, others left-aligned. Cells are
// cleaned (see clean), so text from the database cannot break the layout.
type table struct {
	rows [][]string
}

func (t *table) add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		if t, ok := c.(cleanText); ok {
			row[i] = string(t)
			continue
		}
		row[i] = clean(fmt.Sprint(c))
	}
	t.rows = append(t.rows, row)
}

func (t *table) print(w io.Writer) {
	widths := map[int]int{}
	numeric := map[int]bool{}
	for c := range t.columns() {
		numeric[c] = c > 0
	}
	for r, row := range t.rows {
		for c, cell := range row {
			widths[c] = max(widths[c], utf8.RuneCountInString(cell))
			if r > 0 && cell != "" && !isNumber(cell) {
				numeric[c] = false
			}
		}
	}
	for _, row := range t.rows {
		var b strings.Builder
		for c, cell := range row {
			pad := strings.Repeat(" ", widths[c]-utf8.RuneCountInString(cell))
			if c > 0 {
				b.WriteString("  ")
			}
			if numeric[c] {
				b.WriteString(pad + cell)
			} else if c < len(row)-1 {
				b.WriteString(cell + pad)
			} else {
				b.WriteString(cell)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

func (t *table) columns() func(func(int) bool) {
	return func(yield func(int) bool) {
		n := 0
		for _, row := range t.rows {
			n = max(n, len(row))
		}
		for c := range n {
			if !yield(c) {
				return
			}
		}
	}
}

func isNumber(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' && r != '-' {
			return false
		}
	}
	return s != ""
}
