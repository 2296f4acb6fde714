package storekit

import (
	"cmp"
	"slices"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// UserStatusCount is one row of a count by user and status.
type UserStatusCount struct {
	UserID string
	Status string
	Events int64
}

// TopUsers folds counts by user and status into one entry per user, most
// waiting events first (then most dead, then by id), and keeps limit of them.
func TopUsers(rows []UserStatusCount, limit int) []outbox.UserCounts {
	byUser := map[string]map[outbox.Status]int64{}
	for _, r := range rows {
		if byUser[r.UserID] == nil {
			byUser[r.UserID] = map[outbox.Status]int64{}
		}
		byUser[r.UserID][outbox.Status(r.Status)] += r.Events
	}
	users := make([]outbox.UserCounts, 0, len(byUser))
	for id, counts := range byUser {
		users = append(users, outbox.UserCounts{UserID: id, Counts: counts})
	}
	slices.SortFunc(users, func(a, b outbox.UserCounts) int {
		return cmp.Or(cmp.Compare(b.Waiting(), a.Waiting()), cmp.Compare(b.Counts[outbox.StatusDead], a.Counts[outbox.StatusDead]), cmp.Compare(a.UserID, b.UserID))
	})
	if limit > 0 && len(users) > limit {
		users = users[:limit]
	}
	return users
}
