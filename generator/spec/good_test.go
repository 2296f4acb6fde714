package spec

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func ptr(f float64) *float64 { return &f }

// TestGood holds the loader to complete results for valid specs: every
// default applied, declared order kept, dialects sorted.
func TestGood(t *testing.T) {
	tests := []struct {
		file string
		want *Spec
	}{
		{"minimal.yaml", &Spec{
			Version:  1,
			Package:  Package{Name: "metrics", Path: "internal/metrics", Pos: Pos{3, 1}},
			Dialects: []Dialect{SQLite},
			Metrics: []Metric{{
				Name: "weight",
				Fields: []Field{
					{Name: "kg", Type: Float, Pos: Pos{10, 7}},
					{Name: "note", Type: String, MaxLength: DefaultMaxLength, Pos: Pos{11, 7}},
				},
				Dedupe:      Dedupe{Window: WindowDay, TimeZone: "UTC"},
				Priority:    5,
				MaxAttempts: 5,
				Backoff:     Backoff{Base: 30 * time.Second, Max: time.Hour},
				Events:      Events{Created: "weight.created", Updated: "weight.updated", Deleted: "weight.deleted", PayloadVersion: 1},
				Route:       "/v1/weight",
				Pos:         Pos{8, 3},
			}},
			BatchRoute: "/v1/batch",
		}},
		{"full.yaml", &Spec{
			Version:  1,
			Package:  Package{Name: "health", Path: "gen/health", ImportPath: "example.com/app/gen/health", Pos: Pos{4, 1}},
			Dialects: []Dialect{Postgres, SQLite},
			Metrics: []Metric{
				{
					Name:        "weight",
					Description: "Body weight.",
					Unit:        "kg",
					Fields: []Field{
						{Name: "kg", Description: "Weight in kilograms.", Type: Float, Required: true, Min: ptr(20), Max: ptr(500), Pos: Pos{21, 7}},
						{Name: "note", Type: String, MaxLength: 200, Pos: Pos{22, 7}},
						{Name: "source", Type: Enum, Values: []string{"manual", "scale", "import"}, Pos: Pos{23, 7}},
					},
					Dedupe:      Dedupe{Window: WindowDay, TimeZone: "America/New_York"},
					Priority:    7,
					MaxAttempts: 8,
					Backoff:     Backoff{Base: time.Minute, Max: 10 * time.Minute},
					Events:      Events{Created: "weight.created", Updated: "weight.changed", Deleted: "weight.removed", PayloadVersion: 2},
					Route:       "/v2/weight",
					Pos:         Pos{17, 3},
				},
				{
					Name:        "blood_pressure",
					Description: "Blood pressure, one reading.",
					Unit:        "mmHg",
					Fields: []Field{
						{Name: "systolic", Type: Int, Required: true, Min: ptr(50), Max: ptr(250), Pos: Pos{34, 7}},
						{Name: "diastolic", Type: Int, Required: true, Min: ptr(30), Max: ptr(150), Pos: Pos{35, 7}},
						{Name: "measured_lying", Type: Bool, Pos: Pos{36, 7}},
						{Name: "taken_at", Type: Time, Description: "When the cuff was read, if not at recording.", Pos: Pos{37, 7}},
					},
					Dedupe:      Dedupe{Window: WindowMinute, TimeZone: "Europe/Paris"},
					Priority:    3,
					MaxAttempts: 7,
					Backoff:     Backoff{Base: 10 * time.Second, Max: 2 * time.Hour},
					Events:      Events{Created: "bp.recorded", Updated: "blood_pressure.updated", Deleted: "blood_pressure.deleted", PayloadVersion: 1},
					Route:       "/blood_pressure",
					Pos:         Pos{30, 3},
				},
				{
					Name: "mood",
					Fields: []Field{
						{Name: "score", Type: Int, Min: ptr(-5), Max: ptr(5), Pos: Pos{43, 7}},
					},
					Dedupe:      Dedupe{Window: WindowHour, TimeZone: "UTC"},
					Priority:    3,
					MaxAttempts: 7,
					Backoff:     Backoff{Base: 10 * time.Second, Max: 30 * time.Minute},
					Events:      Events{Created: "mood.created", Updated: "mood.updated", Deleted: "mood.deleted", PayloadVersion: 1},
					Route:       "/mood",
					Pos:         Pos{41, 3},
				},
			},
			BatchRoute: "/batch",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "good", tt.file)
			got, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.File = path
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", dump(got), dump(tt.want))
			}
		})
	}
}

// dump renders a spec for failure messages; %+v would print pointers.
func dump(s *Spec) string {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}
