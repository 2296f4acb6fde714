package httpsender

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
)

// resultSeeds are results a backend may send, and a few no backend should.
var resultSeeds = []string{
	`{"id":"0193a3c0-0000-7000-8000-000000000001","status":201,"remote_id":"r1"}`,
	` { "status" : 200 , "id" : "0193a3c0-0000-7000-8000-000000000001" } `,
	`{"id":"0193a3c0-0000-7000-8000-000000000001","status":201,"status":409}`,
	`{"\u0069d":"0193a3c0-0000-7000-8000-000000000001","st\u0061tus":201}`,
	`{"id":"\u00301 93a3c0","status":"201"}`,
	`{"id":"{0193a3c0-0000-7000-8000-000000000001}","status":201.0}`,
	`{"id":"0193a3c000007000800000000000000 1","status":2e2}`,
	`{"ID":"0193a3c0-0000-7000-8000-000000000001","Status":201}`,
	`{"id":null,"status":null,"remote_id":null,"type":null}`,
	`{"nested":{"id":"x","status":500,"a":[1,{"b":"}"}]},"id":"0193a3c0-0000-7000-8000-000000000001","status":422,"type":"https://example.com/bad","title":"Bad \"kg\""}`,
	`{"remote_id":12345678901234567890,"status":201,"id":"0193a3c0-0000-7000-8000-000000000001"}`,
	`{"remote_id":"caf\u00e9 \ud83d\ude00","status":201}`,
	"{\"remote_id\":\"caf\xc3\xa9\",\"t\xc3\xa9\":1,\"status\":201}",
	`{"status":-201}`, `{"status":0201}`, `{"status":2010}`, `{"status":true}`,
	`{}`, `[]`, `"id"`, `201`, `null`, `[{"id":"0193a3c0-0000-7000-8000-000000000001","status":201}]`,
	// The last "id" names the event, as in a map: the first must not
	// take the status meant for the second.
	`{"id":"0193a3c0-0000-7000-8000-000000000001","status":201,"id":"0193a3c0-0000-7000-8000-000000000002"}`,
	// 38 bytes that uuid.Parse would take for a braced UUID, were the
	// invalid UTF-8 not decoded to U+FFFD first.
	"{\"id\":\"\xff0193a3c0-0000-7000-8000-000000000001x\",\"status\":201}",
}

// TestReadBatchResultDecodesAsAMapWould holds readBatchResult to what
// decoding the result into a map[string]json.RawMessage (which it
// replaced) gives: the same members, the same event id, status and remote
// id, on every seed.
func TestReadBatchResultDecodesAsAMapWould(t *testing.T) {
	for _, seed := range resultSeeds {
		for _, field := range []string{"remote_id", "status", "té"} {
			checkLikeAMap(t, []byte(seed), field)
		}
	}
}

func FuzzReadBatchResult(f *testing.F) {
	for _, seed := range resultSeeds {
		f.Add([]byte(seed), "remote_id")
	}
	f.Fuzz(func(t *testing.T, raw []byte, field string) {
		if field == "id" {
			field = batchRemoteIDField // as Sender.resultRemoteIDField maps it
		}
		checkLikeAMap(t, raw, field)
	})
}

// checkLikeAMap fails t when readBatchResult reads raw, with field as the
// remote id member, otherwise than encoding/json's map decoding does.
// Only valid JSON is compared: readBatchResult is given elements of a
// results array that encoding/json has already decoded.
func checkLikeAMap(t *testing.T, raw []byte, field string) {
	t.Helper()
	res, ok := readBatchResult(raw, field) // and on invalid JSON, no panic
	if !json.Valid(raw) {
		return
	}
	var obj map[string]json.RawMessage
	mapErr := json.Unmarshal(raw, &obj)
	isObject := mapErr == nil && obj != nil
	if ok != isObject {
		t.Fatalf("%s: read as an object %v, encoding/json: %v (err %v)", raw, ok, isObject, mapErr)
	}
	if !ok {
		return
	}
	for _, m := range []struct {
		name string
		got  json.RawMessage
	}{{"id", res.id}, {"status", res.status}, {field, res.remoteID}, {"type", res.problemType}, {"title", res.problemTitle}} {
		if want := obj[m.name]; !bytes.Equal(m.got, want) {
			t.Errorf("%s: member %q read as %q, encoding/json: %q", raw, m.name, m.got, want)
		}
	}

	var idText string
	var wantID uuid.UUID
	wantErr := json.Unmarshal(obj["id"], &idText)
	if wantErr == nil {
		wantID, wantErr = uuid.Parse(idText)
	}
	if id, ok := res.eventID(); ok != (wantErr == nil) || (ok && id != wantID) {
		t.Errorf("%s: event id %s (%v), encoding/json and uuid.Parse: %s (%v)", raw, id, ok, wantID, wantErr)
	}

	var wantStatus int
	wantOK := json.Unmarshal(obj["status"], &wantStatus) == nil
	if status, ok := res.statusCode(); ok != wantOK || (ok && status != wantStatus) {
		t.Errorf("%s: status %d (%v), encoding/json: %d (%v)", raw, status, ok, wantStatus, wantOK)
	}
	var want string
	var n json.Number
	if json.Unmarshal(obj[field], &want) != nil && json.Unmarshal(obj[field], &n) == nil {
		want = n.String()
	}
	if got := remoteIDIn(res.remoteID); got != want {
		t.Errorf("%s: remote id %q, encoding/json: %q", raw, got, want)
	}
}

// FuzzRemoteID checks that a response's remote id is what decoding the
// body into a map, as the sender did, would give, for any body and field.
func FuzzRemoteID(f *testing.F) {
	for _, seed := range resultSeeds {
		f.Add([]byte(seed), "remote_id")
		f.Add([]byte(seed), "id")
	}
	f.Add([]byte(`{"id":"r1"} trailing`), "id")
	f.Add([]byte(`null`), "id")
	f.Add([]byte("\xef\xbb\xbf{\"id\":1}"), "id")
	f.Add([]byte(`{"\u0069d":"x","id":"y","\u0069d":"z"}`), "id")
	f.Add([]byte(`{"a":[[[{"id":"inner"}]]],"id":7}`), "id")
	f.Fuzz(func(t *testing.T, body []byte, field string) {
		want := ""
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) == nil {
			want = remoteIDIn(obj[field])
		}
		if got := remoteID(body, field); got != want {
			t.Errorf("remoteID(%q, %q) = %q, decoded as a map: %q", body, field, got, want)
		}
	})
}
