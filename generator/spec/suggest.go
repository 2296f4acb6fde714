package spec

// maxSuggestDistance is how many one-letter edits a typo may be away from
// what was meant and still earn a "did you mean". Two catches "fileds" and
// "priorty" without suggesting unrelated words for short keys.
const maxSuggestDistance = 2

// closest returns the option nearest to s, if it is near enough to suggest.
// Ties go to the earlier option.
func closest(s string, options []string) (string, bool) {
	best, bestDist := "", maxSuggestDistance+1
	for _, o := range options {
		if d := editDistance(s, o, bestDist); d < bestDist {
			best, bestDist = o, d
		}
	}
	return best, best != ""
}

// editDistance is the Levenshtein distance between a and b, in runes, or
// any value ≥ limit once it is clear the distance is at least limit. The
// cut-off keeps a huge unknown key from costing a huge table.
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
