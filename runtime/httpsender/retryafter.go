package httpsender

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter caps the delay a backend may ask for; anything longer is
// more likely a bug than a plan.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After header value: delta-seconds or an
// HTTP-date. It returns 0 for an empty, invalid, negative or past value,
// and caps the delay at maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if allDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter // only overflow fails on digits
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), maxRetryAfter)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
