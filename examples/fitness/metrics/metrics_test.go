package metrics_test

// Behaviour tests of the package generated from the repository's
// metrics.yaml, on a real SQLite file and a real PostgreSQL database. This
// file is written by hand: the generator leaves files without its header
// alone.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// subject is the generated package on one store, with what the tests need
// to reach underneath it.
type subject struct {
	*metrics.Metrics
	store  outbox.Store
	sqlite bool
	// exec runs SQL on the store's database, outside the generated code.
	exec func(t *testing.T, sql string)
	// count returns the single integer a query selects.
	count func(t *testing.T, sql string) int
	// with makes another Metrics on the same store.
	with func(opts ...metrics.Option) *metrics.Metrics
}

var day = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

func eachStore(t *testing.T, test func(t *testing.T, s subject)) {
	t.Run("sqlite", func(t *testing.T) {
		store := outboxtest.NewSQLiteStore(t)
		m := metrics.NewSQLite(store, metrics.WithClock(func() time.Time { return day }))
		if err := m.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		test(t, subject{
			Metrics: m,
			store:   store,
			sqlite:  true,
			with:    func(opts ...metrics.Option) *metrics.Metrics { return metrics.NewSQLite(store, opts...) },
			exec: func(t *testing.T, q string) {
				t.Helper()
				if err := store.InTx(t.Context(), func(tx *sql.Tx) error { _, err := tx.Exec(q); return err }); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			},
			count: func(t *testing.T, q string) int {
				t.Helper()
				var n int
				if err := store.DB().QueryRow(q).Scan(&n); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				return n
			},
		})
	})
	t.Run("postgres", func(t *testing.T) {
		store := outboxtest.NewPostgresStore(t, pgtest.NewDatabase(t))
		m := metrics.NewPostgres(store, metrics.WithClock(func() time.Time { return day }))
		if err := m.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		test(t, subject{
			Metrics: m,
			store:   store,
			with:    func(opts ...metrics.Option) *metrics.Metrics { return metrics.NewPostgres(store, opts...) },
			exec: func(t *testing.T, q string) {
				t.Helper()
				if _, err := store.Pool().Exec(t.Context(), q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			},
			count: func(t *testing.T, q string) int {
				t.Helper()
				var n int
				if err := store.Pool().QueryRow(t.Context(), q).Scan(&n); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				return n
			},
		})
	})
}

func ptr[T any](v T) *T { return &v }

func events(t *testing.T, s subject, eventType string) []*outbox.Event {
	t.Helper()
	evs, err := s.store.List(t.Context(), outbox.Filter{Type: eventType})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestSaveTwiceOnTheSameDayUpdatesInPlace(t *testing.T) {
	eachStore(t, func(t *testing.T, s subject) {
		ctx := t.Context()
		first, err := s.Weight.Save(ctx, metrics.WeightInput{UserID: "ada", RecordedAt: day, Kg: 70.5})
		if err != nil {
			t.Fatal(err)
		}
		second, err := s.Weight.Save(ctx, metrics.WeightInput{UserID: "ada", RecordedAt: day.Add(8 * time.Hour), Kg: 70.1})
		if err != nil {
			t.Fatal(err)
		}
		if second.ID != first.ID || second.Version != 2 || second.Kg != 70.1 || !second.RecordedAt.Equal(day.Add(8*time.Hour)) {
			t.Fatalf("second save: %+v; want the first entry (%s) at version 2 with the new value", second, first.ID)
		}
		if n := s.count(t, "SELECT count(*) FROM metric_weight"); n != 1 {
			t.Fatalf("%d weight rows after two saves on one day, want 1", n)
		}
		created, updated := events(t, s, metrics.EventWeightCreated), events(t, s, metrics.EventWeightUpdated)
		if len(created) != 1 || len(updated) != 1 {
			t.Fatalf("%d created and %d updated events, want 1 and 1", len(created), len(updated))
		}
		if created[0].AggregateID != first.ID.String() || created[0].EntityVersion != 1 || !created[0].IsNewRecord ||
			updated[0].EntityVersion != 2 || created[0].OrderingKey != updated[0].OrderingKey {
			t.Fatalf("events %+v and %+v", created[0], updated[0])
		}
		// Another user, or the next day, is another entry.
		if _, err := s.SaveWeight(ctx, metrics.WeightInput{UserID: "bob", RecordedAt: day, Kg: 80}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SaveWeight(ctx, metrics.WeightInput{UserID: "ada", RecordedAt: day.AddDate(0, 0, 1), Kg: 70}); err != nil {
			t.Fatal(err)
		}
		if n := s.count(t, "SELECT count(*) FROM metric_weight"); n != 3 {
			t.Fatalf("%d weight rows, want 3", n)
		}
	})
}

func TestDedupeWindows(t *testing.T) {
	eachStore(t, func(t *testing.T, s subject) {
		ctx := t.Context()
		// Heart rate keeps one reading per minute.
		for _, at := range []time.Duration{0, 30 * time.Second, time.Minute} {
			if _, err := s.SaveHeartRate(ctx, metrics.HeartRateInput{UserID: "ada", RecordedAt: day.Add(at), Bpm: 60}); err != nil {
				t.Fatal(err)
			}
		}
		if n := s.count(t, "SELECT count(*) FROM metric_heart_rate"); n != 2 {
			t.Fatalf("%d heart rate rows for readings at 0 s, 30 s and 60 s, want 2", n)
		}
		// Water intake keeps every glass.
		for range 3 {
			if _, err := s.SaveWaterIntake(ctx, metrics.WaterIntakeInput{UserID: "ada", RecordedAt: day, Ml: 250}); err != nil {
				t.Fatal(err)
			}
		}
		if n := s.count(t, "SELECT count(*) FROM metric_water_intake"); n != 3 {
			t.Fatalf("%d water rows for three glasses, want 3", n)
		}
	})
}

func TestDeleteLeavesATombstone(t *testing.T) {
	eachStore(t, func(t *testing.T, s subject) {
		ctx := t.Context()
		e, err := s.Mood.Save(ctx, metrics.MoodInput{UserID: "ada", RecordedAt: day, Score: 7, Label: ptr(metrics.MoodLabelGood)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Mood.Delete(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Mood.Get(ctx, e.ID); !errors.Is(err, metrics.ErrNotFound) {
			t.Fatalf("get after delete: %v, want ErrNotFound", err)
		}
		deleted := events(t, s, metrics.EventMoodDeleted)
		if len(deleted) != 1 || deleted[0].AggregateID != e.ID.String() || deleted[0].EntityVersion != 2 {
			t.Fatalf("deleted events: %+v", deleted)
		}
		if n := s.count(t, "SELECT count(*) FROM metric_mood WHERE deleted_at IS NOT NULL"); n != 1 {
			t.Fatalf("%d tombstones, want 1", n)
		}
		if err := s.Mood.Delete(ctx, e.ID); !errors.Is(err, metrics.ErrNotFound) {
			t.Fatalf("second delete: %v, want ErrNotFound", err)
		}
		if n := len(events(t, s, metrics.EventMoodDeleted)); n != 1 {
			t.Fatalf("a failed delete enqueued an event (%d deleted events)", n)
		}
		// A new entry in the same hour is a new entry, not the tombstone.
		again, err := s.Mood.Save(ctx, metrics.MoodInput{UserID: "ada", RecordedAt: day, Score: 5})
		if err != nil {
			t.Fatal(err)
		}
		if again.ID == e.ID || again.Version != 1 {
			t.Fatalf("saving after a delete revived the tombstone: %+v", again)
		}
	})
}

// A fault after the entity is written (the outbox insert fails) rolls back
// the entity too: there is never an entity change without its event.
func TestFailureAfterEntityWriteRollsBackBoth(t *testing.T) {
	eachStore(t, func(t *testing.T, s subject) {
		ctx := t.Context()
		if s.count(t, "SELECT count(*) FROM metric_steps") != 0 {
			t.Fatal("not empty")
		}
		installOutboxFault(t, s)
		_, err := s.Steps.Save(ctx, metrics.StepsInput{UserID: "doomed", RecordedAt: day, Count: 1000})
		if err == nil {
			t.Fatal("save succeeded although the outbox insert failed")
		}
		if n := s.count(t, "SELECT count(*) FROM metric_steps"); n != 0 {
			t.Fatalf("the entity was written without its event (%d rows)", n)
		}
		if n := s.count(t, "SELECT count(*) FROM outbox_events"); n != 0 {
			t.Fatalf("%d events", n)
		}
		// Other users are unaffected.
		if _, err := s.Steps.Save(ctx, metrics.StepsInput{UserID: "ada", RecordedAt: day, Count: 1000}); err != nil {
			t.Fatal(err)
		}
	})
}

// installOutboxFault makes inserting an outbox event for user "doomed" fail.
func installOutboxFault(t *testing.T, s subject) {
	t.Helper()
	if s.sqlite {
		s.exec(t, `CREATE TRIGGER fail_doomed BEFORE INSERT ON outbox_events
			WHEN NEW.user_id = 'doomed' BEGIN SELECT RAISE(ABORT, 'injected fault'); END`)
		return
	}
	s.exec(t, `CREATE FUNCTION fail_doomed() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.user_id = 'doomed' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$`)
	s.exec(t, `CREATE TRIGGER fail_doomed BEFORE INSERT ON outbox_events FOR EACH ROW EXECUTE FUNCTION fail_doomed()`)
}

func TestValidationRejectsBeforeAnyWrite(t *testing.T) {
	eachStore(t, func(t *testing.T, s subject) {
		ctx := t.Context()
		cases := []struct {
			name string
			save func() error
			want error
		}{
			{"weight below min", func() error { _, err := s.SaveWeight(ctx, metrics.WeightInput{UserID: "ada", Kg: 5}); return err }, metrics.ErrOutOfRange},
			{"mood above max", func() error { _, err := s.SaveMood(ctx, metrics.MoodInput{UserID: "ada", Score: 11}); return err }, metrics.ErrOutOfRange},
			{"unknown label", func() error {
				_, err := s.SaveMood(ctx, metrics.MoodInput{UserID: "ada", Score: 5, Label: ptr(metrics.MoodLabel("ecstatic"))})
				return err
			}, metrics.ErrNotAllowed},
			{"note too long", func() error {
				long := string(make([]rune, 501))
				_, err := s.SaveMood(ctx, metrics.MoodInput{UserID: "ada", Score: 5, Note: &long})
				return err
			}, metrics.ErrTooLong},
			{"no user", func() error { _, err := s.SaveWeight(ctx, metrics.WeightInput{Kg: 70}); return err }, metrics.ErrNoUser},
		}
		for _, tc := range cases {
			err := tc.save()
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		var ve *metrics.ValidationError
		_, err := s.SaveWeight(ctx, metrics.WeightInput{UserID: "ada", Kg: 600})
		if !errors.As(err, &ve) || ve.Metric != "weight" || ve.Field != "kg" || ve.Detail != "must be from 20 to 500" {
			t.Errorf("validation error %#v", ve)
		}
		if n := s.count(t, "SELECT count(*) FROM outbox_events"); n != 0 {
			t.Fatalf("invalid saves enqueued %d events", n)
		}
		if n := s.count(t, "SELECT count(*) FROM metric_weight") + s.count(t, "SELECT count(*) FROM metric_mood"); n != 0 {
			t.Fatalf("invalid saves wrote %d rows", n)
		}
	})
}

// Values one of the databases, or the event's JSON, would refuse are
// refused alike on both, before any write, as a *ValidationError naming
// the field: a NUL byte PostgreSQL's text cannot hold, a user id too long
// for PostgreSQL's index (given, or from the resolver), a time JSON cannot
// write.
func TestValuesADatabaseWouldRefuseAreValidationErrors(t *testing.T) {
	eachStore(t, func(t *testing.T, s subject) {
		ctx := t.Context()
		long := strings.Repeat("u", 10_000)
		far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		resolved := s.with(metrics.WithUserResolver(func(context.Context) (string, error) { return long, nil }))
		cases := []struct {
			name  string
			save  func() error
			field string
			want  error
		}{
			{"NUL in a string", func() error {
				_, err := s.SaveMood(ctx, metrics.MoodInput{UserID: "ada", Score: 5, Note: ptr("a\x00b")})
				return err
			}, "note", metrics.ErrNotAllowed},
			{"10 kB user id", func() error {
				_, err := s.SaveWeight(ctx, metrics.WeightInput{UserID: long, Kg: 70})
				return err
			}, "user_id", metrics.ErrTooLong},
			{"10 kB user id from the resolver", func() error {
				_, err := resolved.SaveWeight(ctx, metrics.WeightInput{Kg: 70})
				return err
			}, "user_id", metrics.ErrTooLong},
			{"NUL in a user id", func() error {
				_, err := s.SaveWeight(ctx, metrics.WeightInput{UserID: "a\x00", Kg: 70})
				return err
			}, "user_id", metrics.ErrNotAllowed},
			{"time field in year 10000", func() error {
				_, err := s.SaveSleep(ctx, metrics.SleepInput{UserID: "ada", Hours: 8, WentToBed: &far})
				return err
			}, "went_to_bed", metrics.ErrOutOfRange},
			{"recorded in year 10000", func() error {
				_, err := s.SaveWeight(ctx, metrics.WeightInput{UserID: "ada", RecordedAt: far, Kg: 70})
				return err
			}, "recorded_at", metrics.ErrOutOfRange},
		}
		for _, c := range cases {
			err := c.save()
			var ve *metrics.ValidationError
			if !errors.As(err, &ve) || ve.Field != c.field || !errors.Is(err, c.want) {
				t.Errorf("%s: %v; want a *ValidationError of %s wrapping %v", c.name, err, c.field, c.want)
			}
		}
		if n := s.count(t, "SELECT count(*) FROM outbox_events"); n != 0 {
			t.Fatalf("invalid saves enqueued %d events", n)
		}
		// The longest user id allowed is stored.
		if _, err := s.SaveWeight(ctx, metrics.WeightInput{UserID: strings.Repeat("u", metrics.MaxUserIDBytes), Kg: 70}); err != nil {
			t.Fatal(err)
		}
	})
}

// Windows are computed in the metric's time zone: sleep's days are New
// York's, so a night ending at 23:30 and one ending at 00:30 the next
// morning there are two entries, though both are on one UTC day; and two
// on one New York day are one, though they are on two UTC days.
func TestDayWindowIsTheZonesDay(t *testing.T) {
	eachStore(t, func(t *testing.T, s subject) {
		ctx := t.Context()
		at := func(utc string) time.Time {
			t.Helper()
			v, err := time.Parse(time.RFC3339, utc)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		save := func(utc string) metrics.Sleep {
			t.Helper()
			e, err := s.Sleep.Save(ctx, metrics.SleepInput{UserID: "ada", RecordedAt: at(utc), Hours: 7})
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		// 2026-03-14 in New York is 04:00Z to 04:00Z the next day (EDT).
		lateEvening := save("2026-03-14T03:30:00Z")  // 23:30 on the 13th
		pastMidnight := save("2026-03-14T04:30:00Z") // 00:30 on the 14th
		evening := save("2026-03-15T01:00:00Z")      // 21:00 on the 14th
		if lateEvening.ID == pastMidnight.ID {
			t.Fatalf("23:30 and 00:30 in New York are one entry; they are two days there")
		}
		if evening.ID != pastMidnight.ID || evening.Version != 2 {
			t.Fatalf("00:30 and 21:00 on one New York day are two entries (%s, %s); want one", pastMidnight.ID, evening.ID)
		}
	})
}

// When New York's clock falls back (2025-11-02, 02:00 EDT → 01:00 EST), it
// shows 01:30 twice: 05:30Z and 06:30Z are two real hours, so two windows;
// 05:45Z is in the first again.
func TestHourWindowsAcrossAFallBack(t *testing.T) {
	eachStore(t, func(t *testing.T, s subject) {
		ctx := t.Context()
		save := func(hour, minute int) metrics.Mood {
			t.Helper()
			e, err := s.Mood.Save(ctx, metrics.MoodInput{UserID: "ada", RecordedAt: time.Date(2025, 11, 2, hour, minute, 0, 0, time.UTC), Score: 5})
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		first, second, again, next := save(5, 30), save(6, 30), save(5, 45), save(7, 10)
		if first.ID == second.ID {
			t.Fatal("01:30 EDT and 01:30 EST are one entry; they are two hours")
		}
		if again.ID != first.ID || again.Version != 2 {
			t.Fatalf("01:45 EDT is not the entry of 01:30 EDT: %+v", again)
		}
		if next.ID == second.ID || next.ID == first.ID {
			t.Fatal("02:10 EST is the entry of an earlier hour")
		}
	})
}

// Delivery marks the entry synced, with the backend's id; a change made
// after the event was written keeps the entry pending until its own event
// is delivered.
func TestDeliveryMarksSynced(t *testing.T) {
	eachStore(t, func(t *testing.T, s subject) {
		ctx := t.Context()
		e, err := s.Sleep.Save(ctx, metrics.SleepInput{UserID: "ada", RecordedAt: day, Hours: 7.5})
		if err != nil {
			t.Fatal(err)
		}
		sender := &outboxtest.Sender{}
		sender.ReturnRemoteID(func(ev *outbox.Event) string { return "backend-" + ev.AggregateID[:8] })
		// Edit the entry while its first event is being delivered.
		edited := false
		sender.FailWhen(func(ev *outbox.Event) error {
			if !edited {
				edited = true
				if _, err := s.Sleep.Save(context.WithoutCancel(ctx), metrics.SleepInput{UserID: "ada", RecordedAt: day, Hours: 8}); err != nil {
					return outbox.PermanentError(err)
				}
			}
			return nil
		})
		outboxtest.Drain(t, s.store, sender, 0)

		got, err := s.Sleep.Get(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.SyncStatus != metrics.SyncSynced || got.BackendID == nil || *got.BackendID != "backend-"+e.ID.String()[:8] || got.Hours != 8 {
			t.Fatalf("after delivery: %+v", got)
		}
		if len(sender.Delivered()) != 2 {
			t.Fatalf("%d deliveries, want the created and the updated event", len(sender.Delivered()))
		}
		counts, err := s.Sleep.CountBySyncStatus(ctx)
		if err != nil || counts[metrics.SyncSynced] != 1 || counts[metrics.SyncPending] != 0 {
			t.Fatalf("sync counts %v, %v", counts, err)
		}
	})
}

// Deliveries recorded in one batch mark every entry synced, each with its
// own backend id; a delivery without one keeps the id the entry had, and an
// event for a version the entry has left behind syncs nothing.
func TestBatchOfDeliveriesMarksEachSynced(t *testing.T) {
	eachStore(t, func(t *testing.T, s subject) {
		ctx := t.Context()
		var entries []metrics.Weight
		for i := range 4 {
			e, err := s.Weight.Save(ctx, metrics.WeightInput{UserID: fmt.Sprintf("user-%d", i), RecordedAt: day, Kg: 70})
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, e)
		}
		// The first entry was delivered before, with an id of its own.
		s.exec(t, "UPDATE metric_weight SET backend_id = 'kept' WHERE user_id = 'user-0'")
		claimed, err := s.store.Claim(ctx, "test", 10, time.Minute)
		if err != nil || len(claimed) != 4 {
			t.Fatalf("claimed %d: %v", len(claimed), err)
		}
		// The last entry changes while its first event is in flight.
		if _, err := s.Weight.Save(ctx, metrics.WeightInput{UserID: "user-3", RecordedAt: day, Kg: 71}); err != nil {
			t.Fatal(err)
		}
		var outs []outbox.Outcome
		for _, ev := range claimed {
			r := outbox.Receipt{RemoteID: "backend-" + ev.UserID}
			if ev.UserID == "user-0" {
				r.RemoteID = ""
			}
			outs = append(outs, outbox.Outcome{Event: ev, Kind: outbox.Delivered, Receipt: r})
		}
		if res, err := s.store.Finish(ctx, outs); err != nil || len(res.HookErrors) != 0 || len(res.Lost) != 0 {
			t.Fatalf("finish: %+v, %v", res, err)
		}
		for i, e := range entries {
			got, err := s.Weight.Get(ctx, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus, wantID := metrics.SyncSynced, fmt.Sprintf("backend-user-%d", i)
			switch i {
			case 0:
				wantID = "kept"
			case 3:
				wantStatus, wantID = metrics.SyncPending, ""
			}
			gotID := ""
			if got.BackendID != nil {
				gotID = *got.BackendID
			}
			if got.SyncStatus != wantStatus || gotID != wantID {
				t.Errorf("entry %d: %s, backend id %q; want %s, %q", i, got.SyncStatus, gotID, wantStatus, wantID)
			}
		}
	})
}

// The first delivery raced the edit: between them, the entry was pending.
func TestEditDuringDeliveryKeepsPending(t *testing.T) {
	eachStore(t, func(t *testing.T, s subject) {
		ctx := t.Context()
		e, err := s.Height.Save(ctx, metrics.HeightInput{UserID: "ada", RecordedAt: day, Cm: 170})
		if err != nil {
			t.Fatal(err)
		}
		claimed, err := s.store.Claim(ctx, "test", 1, time.Minute)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %v %v", claimed, err)
		}
		if _, err := s.Height.Save(ctx, metrics.HeightInput{UserID: "ada", RecordedAt: day, Cm: 171}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.store.Finish(ctx, []outbox.Outcome{{Event: claimed[0], Kind: outbox.Delivered}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Height.Get(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.SyncStatus != metrics.SyncPending || got.Version != 2 {
			t.Fatalf("after delivering version 1 of an entry now at version 2: %+v; want pending", got)
		}
	})
}

func TestListFilters(t *testing.T) {
	eachStore(t, func(t *testing.T, s subject) {
		ctx := t.Context()
		for i, user := range []string{"ada", "ada", "bob"} {
			if _, err := s.SaveBodyFat(ctx, metrics.BodyFatInput{UserID: user, RecordedAt: day.AddDate(0, 0, i), Percent: 20}); err != nil {
				t.Fatal(err)
			}
		}
		all, err := s.BodyFat.List(ctx, metrics.ListFilter{})
		if err != nil || len(all) != 3 {
			t.Fatalf("list all: %d, %v", len(all), err)
		}
		ada, _ := s.BodyFat.List(ctx, metrics.ListFilter{UserID: "ada"})
		window, _ := s.BodyFat.List(ctx, metrics.ListFilter{From: day.AddDate(0, 0, 1), To: day.AddDate(0, 0, 2)})
		pending, _ := s.BodyFat.List(ctx, metrics.ListFilter{SyncStatus: metrics.SyncPending, Limit: 2})
		synced, _ := s.BodyFat.List(ctx, metrics.ListFilter{SyncStatus: metrics.SyncSynced})
		if len(ada) != 2 || len(window) != 1 || window[0].UserID != "ada" || len(pending) != 2 || len(synced) != 0 {
			t.Fatalf("filters: ada %d, window %d, pending (limit 2) %d, synced %d", len(ada), len(window), len(pending), len(synced))
		}
		if !all[0].RecordedAt.Before(all[1].RecordedAt) || all[0].RecordedAt.Location() != time.UTC {
			t.Fatalf("list is not oldest first in UTC: %v, %v", all[0].RecordedAt, all[1].RecordedAt)
		}
	})
}

// A table created before a field was declared gets the field's column.
func TestMigrateAddsColumnsOfNewFields(t *testing.T) {
	eachStore(t, func(t *testing.T, s subject) {
		ctx := t.Context()
		s.exec(t, "DROP TABLE metric_mood")
		s.exec(t, `CREATE TABLE metric_mood (id `+idType(s)+` PRIMARY KEY, user_id TEXT NOT NULL, recorded_at `+timeType(s)+` NOT NULL,
			bucket TEXT NOT NULL, score INTEGER, version INTEGER NOT NULL, backend_id TEXT, sync_status TEXT NOT NULL,
			created_at `+timeType(s)+` NOT NULL, updated_at `+timeType(s)+` NOT NULL, deleted_at `+timeType(s)+`)`)
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		e, err := s.Mood.Save(ctx, metrics.MoodInput{UserID: "ada", RecordedAt: day, Score: 6, Note: ptr("slept well")})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Mood.Get(ctx, e.ID); got.Note == nil || *got.Note != "slept well" {
			t.Fatalf("note not kept: %+v", got)
		}
	})
}

func idType(s subject) string {
	if s.sqlite {
		return "TEXT"
	}
	return "uuid"
}

func timeType(s subject) string {
	if s.sqlite {
		return "INTEGER"
	}
	return "timestamptz"
}
