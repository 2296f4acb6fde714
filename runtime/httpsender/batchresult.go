package httpsender

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/google/uuid"
)

// batchResult is one event's result in a batch response: the members the
// sender reads, as raw JSON. For each name it holds the last member of that
// name, which is what encoding/json keeps when it decodes the object into a
// map; a nil field is a member the result does not have.
//
// A batch response holds one result per event, so the results are read
// without decoding what the sender does not read. Decoding each into a
// map[string]json.RawMessage, as the sender did, took 4 µs and 24
// allocations per event of a 500-event response (BenchmarkBatchResults);
// this takes 1 µs and 2, on a drain whose Go side spends some 30 µs per
// event in all.
type batchResult struct {
	id, status, remoteID, problemType, problemTitle json.RawMessage
}

// readBatchResult reads raw, valid JSON: one element of a response's
// "results" array, which encoding/json has decoded already, or a response
// body that json.Valid accepted (see remoteID). remoteIDField is
// the member that holds the remote id. ok is false when raw is not an
// object (and, should it not be valid JSON after all, when it is not one
// as far as it goes).
func readBatchResult(raw []byte, remoteIDField string) (r batchResult, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return r, false
	}
	i = skipSpace(raw, i+1)
	for i < len(raw) && raw[i] != '}' {
		if raw[i] != '"' {
			return batchResult{}, false
		}
		keyEnd := stringEnd(raw, i)
		name := memberName(raw[i:keyEnd])
		if i = skipSpace(raw, keyEnd); i >= len(raw) || raw[i] != ':' {
			return batchResult{}, false
		}
		i = skipSpace(raw, i+1)
		valEnd := valueEnd(raw, i)
		val := json.RawMessage(raw[i:valEnd])
		switch string(name) { // compared, not kept: no copy
		case "id":
			r.id = val
		case "status":
			r.status = val
		case "type":
			r.problemType = val
		case "title":
			r.problemTitle = val
		}
		if string(name) == remoteIDField {
			r.remoteID = val
		}
		i = skipSpace(raw, valEnd)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return r, true
}

// eventID is the UUID in the result's "id", as the string it decodes to.
func (r batchResult) eventID() (uuid.UUID, bool) {
	var id uuid.UUID
	var err error
	if s, ok := plainString(r.id); ok {
		id, err = uuid.ParseBytes(s)
	} else {
		var text string
		if err = json.Unmarshal(r.id, &text); err == nil {
			id, err = uuid.Parse(text)
		}
	}
	return id, err == nil
}

// statusCode is the result's "status" as encoding/json would decode it
// into an int; ok is false when it would not.
func (r batchResult) statusCode() (int, bool) {
	if len(r.status) <= 3 && allDigits(string(r.status)) {
		code := 0
		for _, c := range r.status {
			code = code*10 + int(c-'0')
		}
		return code, true
	}
	var code int
	return code, json.Unmarshal(r.status, &code) == nil
}

// problem is the result's problem-document members, as problemFields reads
// them.
func (r batchResult) problem() map[string]json.RawMessage {
	return map[string]json.RawMessage{"type": r.problemType, "title": r.problemTitle}
}

// plainString returns the characters of raw when raw is a JSON string that
// decodes to exactly those bytes: no escapes, and only ASCII, so that
// encoding/json would not replace invalid UTF-8 either.
func plainString(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	s := raw[1 : len(raw)-1]
	for _, c := range s {
		if c == '\\' || c == '"' || c < 0x20 || c >= utf8.RuneSelf {
			return nil, false
		}
	}
	return s, true
}

// memberName is the name a member's quoted key decodes to.
func memberName(key []byte) []byte {
	if s, ok := plainString(key); ok {
		return s
	}
	var name string
	if json.Unmarshal(key, &name) != nil {
		return nil
	}
	return []byte(name)
}

// skipSpace returns the index of the first byte of b at or after i that is
// not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string that starts at
// b[i], a quote.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// valueEnd returns the index just past the JSON value that starts at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	return j
}
