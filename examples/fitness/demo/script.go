package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
)

// script is what the two users log: every day a weight, a step count, a
// mood and a night's sleep. Some days they log twice, which the metrics'
// dedupe windows turn into updates of the same entry.
type script struct {
	m     *metrics.Metrics
	users []string
	start time.Time
	pace  time.Duration
	// firstMood remembers an entry to delete at the end.
	firstMood uuid.UUID
}

// Expected is what the script leaves per metric, for two users and seven
// days: one entry per user per day, minus one deleted mood.
var Expected = map[string]int{"weight": 14, "steps": 14, "mood": 13, "sleep": 14}

func (s *script) days(ctx context.Context, from, to int) error {
	for d := from; d <= to; d++ {
		day := s.start.AddDate(0, 0, d-1)
		for i, user := range s.users {
			if err := s.logDay(ctx, user, day, d, i); err != nil {
				return fmt.Errorf("day %d, %s: %w", d, user, err)
			}
		}
	}
	return nil
}

func (s *script) logDay(ctx context.Context, user string, day time.Time, d, i int) error {
	kg := 70.0 + float64(i)*12 - float64(d)*0.1
	saves := []func() error{
		func() error {
			_, err := s.m.SaveWeight(ctx, metrics.WeightInput{UserID: user, RecordedAt: day.Add(7 * time.Hour), Kg: kg})
			return err
		},
		func() error {
			_, err := s.m.SaveSleep(ctx, metrics.SleepInput{UserID: user, RecordedAt: day.Add(8 * time.Hour), Hours: 6.5 + float64(d%3)*0.5})
			return err
		},
		func() error {
			label := []metrics.MoodLabel{metrics.MoodLabelOkay, metrics.MoodLabelGood, metrics.MoodLabelGreat}[d%3]
			id, err := s.m.SaveMood(ctx, metrics.MoodInput{UserID: user, RecordedAt: day.Add(12 * time.Hour), Score: int64(5 + d%4), Label: &label})
			if d == 1 && i == 1 {
				s.firstMood = id
			}
			return err
		},
		func() error {
			_, err := s.m.SaveSteps(ctx, metrics.StepsInput{UserID: user, RecordedAt: day.Add(21 * time.Hour), Count: int64(6000 + 700*d + 900*i)})
			return err
		},
	}
	// Re-logs: a second weigh-in on even days (same day: replaces the
	// first), and a second mood in the same hour on day 6.
	if d%2 == 0 {
		saves = append(saves, func() error {
			_, err := s.m.SaveWeight(ctx, metrics.WeightInput{UserID: user, RecordedAt: day.Add(19 * time.Hour), Kg: kg + 0.4})
			return err
		})
	}
	if d == 6 {
		saves = append(saves, func() error {
			_, err := s.m.SaveMood(ctx, metrics.MoodInput{UserID: user, RecordedAt: day.Add(12*time.Hour + 40*time.Minute), Score: 9})
			return err
		})
	}
	for _, save := range saves {
		if err := save(); err != nil {
			return err
		}
		if err := sleep(ctx, s.pace); err != nil {
			return err
		}
	}
	return nil
}

// deleteOne deletes bob's first mood: its tombstone travels like any change.
func (s *script) deleteOne(ctx context.Context) error {
	if err := s.m.Mood.Delete(ctx, s.firstMood); err != nil {
		return fmt.Errorf("delete a mood: %w", err)
	}
	return nil
}
