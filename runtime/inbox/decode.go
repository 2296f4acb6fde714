package inbox

import (
	"cmp"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// InvalidPayload is a payload that breaks its metric's rules: each
// FieldError names a field and what is wrong with it, never its value. A
// receiver answers it 422.
type InvalidPayload struct {
	Errors []FieldError
}

func (e *InvalidPayload) Error() string { return "invalid payload: " + fieldDetail(e.Errors) }

// errMalformed is a payload that is not a JSON object.
var errMalformed = errors.New("the payload is not a JSON object")

// Fields are the keys of a payload's JSON object: every one of Required,
// not null, and any of Optional; no other.
type Fields struct {
	Required, Optional []string
}

// Decode unmarshals payload, a JSON object with the keys of f, into v, a
// pointer to a struct whose fields carry those keys in json tags. Keys are
// matched exactly (encoding/json alone would take "KG" for "kg"), a key
// f does not list is refused rather than dropped, and a value of the
// wrong type is reported by its field, without the value.
func Decode(payload []byte, f Fields, v any) error {
	var object map[string]json.RawMessage
	if err := json.Unmarshal(payload, &object); err != nil || object == nil {
		return errMalformed
	}
	var errs []FieldError
	unknown := false
	for key := range object {
		if !slices.Contains(f.Required, key) && !slices.Contains(f.Optional, key) {
			unknown = true
		}
	}
	if unknown {
		// The unknown keys are not named: they are the client's text.
		errs = append(errs, FieldError{Pointer: "", Detail: "has fields this receiver does not know; is the sender's spec newer than the receiver's?"})
	}
	for _, key := range f.Required {
		if raw, ok := object[key]; !ok || string(raw) == "null" {
			errs = append(errs, FieldError{Pointer: "/" + key, Detail: "is required"})
		}
	}
	if len(errs) == 0 && json.Unmarshal(payload, v) == nil {
		return nil
	}
	// Again one key at a time, so that a wrong value is pinned to its field.
	for key, raw := range object {
		if unknown || string(raw) == "null" {
			continue
		}
		one, _ := json.Marshal(map[string]json.RawMessage{key: raw})
		if err := json.Unmarshal(one, v); err != nil {
			errs = append(errs, FieldError{Pointer: "/" + key, Detail: "must be " + expected(v, key)})
		}
	}
	if len(errs) == 0 {
		return errMalformed
	}
	slices.SortFunc(errs, func(a, b FieldError) int { return cmp.Compare(a.Pointer, b.Pointer) })
	return &InvalidPayload{Errors: errs}
}

// expected describes the JSON value the field of v tagged key takes.
func expected(v any, key string) string {
	t := reflect.TypeOf(v).Elem()
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != key {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft == reflect.TypeFor[time.Time]():
			return "an RFC 3339 date and time"
		case ft == reflect.TypeFor[uuid.UUID]():
			return "a UUID"
		}
		switch ft.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return "a whole number in range"
		case reflect.Float32, reflect.Float64:
			return "a number"
		case reflect.String:
			return "a string"
		case reflect.Bool:
			return "true or false"
		}
	}
	return "a value of another type"
}

// Invalid gathers the errors err joins (with errors.Join, at any depth)
// into an *InvalidPayload, naming each one's field and what is wrong with
// it by field. Generated receivers use it on the wire package's
// validation errors.
func Invalid(err error, field func(error) (name, detail string)) *InvalidPayload {
	var errs []FieldError
	var walk func(error)
	walk = func(err error) {
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				walk(e)
			}
			return
		}
		name, detail := field(err)
		errs = append(errs, FieldError{Pointer: "/" + name, Detail: detail})
	}
	walk(err)
	return &InvalidPayload{Errors: errs}
}
