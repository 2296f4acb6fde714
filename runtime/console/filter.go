package console

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// listQuery is a listing's filter and position, as the URL carries them:
// ?status=dead&type=weight.created&user=ada&older=1h&after=….
type listQuery struct {
	Status outbox.Status // "" lists every status, dead and failed first
	Type   string
	User   string
	Older  string // as typed: "1h", "2d"
	older  time.Duration
	After  cursor
}

// cursor is where a page ended: a status and a key within it.
type cursor struct {
	Status outbox.Status
	Key    outbox.PageKey
}

func (c cursor) String() string {
	if c.Status == "" {
		return ""
	}
	return fmt.Sprintf("%s.%d.%s", c.Status, c.Key.At.UnixMicro(), c.Key.ID)
}

func parseCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{}, nil
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 || !outbox.Status(parts[0]).Valid() {
		return cursor{}, fmt.Errorf("the page position %q is not one the console made", s)
	}
	us, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return cursor{}, fmt.Errorf("the page position %q is not one the console made", s)
	}
	id, err := uuid.Parse(parts[2])
	if err != nil {
		return cursor{}, fmt.Errorf("the page position %q is not one the console made", s)
	}
	return cursor{Status: outbox.Status(parts[0]), Key: outbox.PageKey{At: time.UnixMicro(us).UTC(), ID: id}}, nil
}

// maxFilterText bounds a typed filter: no type or user id is longer.
const maxFilterText = 256

// parseListQuery reads a listing's filter from the URL's query; its error
// is said to the person who typed it.
func parseListQuery(v url.Values) (listQuery, error) {
	q := listQuery{
		Status: outbox.Status(v.Get("status")),
		Type:   strings.TrimSpace(v.Get("type")),
		User:   strings.TrimSpace(v.Get("user")),
		Older:  strings.TrimSpace(v.Get("older")),
	}
	if q.Status != "" && !q.Status.Valid() {
		return q, fmt.Errorf("%q is not a status: use dead, failed, processing, pending or completed", visible(string(q.Status)))
	}
	if len(q.Type) > maxFilterText || len(q.User) > maxFilterText {
		return q, fmt.Errorf("a type or user of more than %d bytes matches nothing", maxFilterText)
	}
	if q.Older != "" {
		d, err := parseAge(q.Older)
		if err != nil {
			return q, err
		}
		q.older = d
	}
	var err error
	if q.After, err = parseCursor(v.Get("after")); err != nil {
		return q, err
	}
	if q.Status != "" && q.After.Status != "" && q.After.Status != q.Status {
		return q, fmt.Errorf("the page position is in %s events, the filter asks for %s", q.After.Status, q.Status)
	}
	return q, nil
}

// parseAge reads "90s", "15m", "1h", "2d".
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n > 0 && n < 10000 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not an age: use e.g. 30m, 1h or 2d", visible(s))
	}
	return d, nil
}

// filter is q as a store filter of status s, at time now.
func (q listQuery) filter(s outbox.Status, now time.Time, limit int) outbox.Filter {
	f := outbox.Filter{Status: s, Type: q.Type, UserID: q.User, Limit: limit}
	if q.older > 0 {
		f.CreatedBefore = now.Add(-q.older)
	}
	return f
}

// values is q as URL query values, without the position.
func (q listQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"status": string(q.Status), "type": q.Type, "user": q.User, "older": q.Older} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// Query is q's query string, without the position.
func (q listQuery) Query() string { return q.values().Encode() }

// Filtered reports whether q narrows the listing at all.
func (q listQuery) Filtered() bool {
	return q.Status != "" || q.Type != "" || q.User != "" || q.Older != ""
}

// Describe says in words which events q selects.
func (q listQuery) Describe() string {
	s := "events"
	if q.Status != "" {
		s = string(q.Status) + " events"
	}
	if q.Type != "" {
		s += " of type " + visible(q.Type)
	}
	if q.User != "" {
		s += " of user " + visible(q.User)
	}
	if q.Older != "" {
		s += " enqueued more than " + q.Older + " ago"
	}
	return s
}
