package inbox

import (
	"context"

	"github.com/google/uuid"
)

// Store is where a receiver keeps what it must remember between requests:
// the answer given to each idempotency key, and each entity's highest
// applied version. Every method but InTx runs in a transaction InTx
// opened, the one in which the change itself is applied, so a change and
// the record of its key commit together or not at all.
//
// pginbox.Store keeps it in PostgreSQL (many receivers may share one
// database) and sqliteinbox.Store in an SQLite file (one process). Tx is
// the transaction type the store hands to the application's Applier.
type Store[Tx any] interface {
	// InTx runs fn in a transaction and commits it when fn returns nil.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// Claim takes each key for tx, without waiting: false for a key
	// another transaction holds, whose request is still in progress. A
	// claim lasts until tx ends.
	Claim(ctx context.Context, tx Tx, keys []string) ([]bool, error)
	// Recall returns what the store remembers of each key, in order. A key
	// stored with the same fingerprint is counted as replayed once more.
	Recall(ctx context.Context, tx Tx, keys []Key) ([]Recalled, error)
	// Advance moves each entity to the version it carries if that is
	// above the entity's (or the entity is new), and reports, in order,
	// what became of each. No two entities of one call are the same.
	// An entity is never advanced for another user than its own.
	Advance(ctx context.Context, tx Tx, entities []Entity) ([]Advanced, error)
	// Remember stores the answer given to each key.
	Remember(ctx context.Context, tx Tx, records []Record) error
}

// Key is an idempotency key and the fingerprint of the request that
// carried it: a hash of its event type and payload.
type Key struct {
	Key         string
	Fingerprint []byte
}

// Recalled is what a store remembers of a key.
type Recalled struct {
	Found bool // the key's request completed before
	// Same reports that it came with the same fingerprint: a repeat, which
	// gets Answer again. A key found with another fingerprint is a
	// client's mistake.
	Same   bool
	Answer Answer
}

// Answer is what a completed request was answered: a repeat of it gets the
// same.
type Answer struct {
	Status    int    // 201 (the entity was new) or 200
	BackendID string // the receiver's id for the entity
	Applied   bool   // false: a stale version, acknowledged without effect
}

// Entity is the entity of a change at the version the change brings.
type Entity struct {
	Metric  string
	ID      uuid.UUID
	UserID  string
	Version int64
	Deleted bool // the change deletes it: a tombstone at Version
	// BackendID is the id the entity gets if the store has never seen it.
	BackendID string
}

// Advanced is what became of an Entity.
type Advanced struct {
	// Advanced reports that the entity is now at the change's version: the
	// change must be applied. Otherwise it is stale (the entity is at that
	// version or a later one, or deleted at one) or for another user.
	Advanced  bool
	First     bool   // the store had never seen the entity
	BackendID string // the entity's id at the receiver
	UserID    string // the user the entity belongs to
}

// Record is the answer given to a key, stored with its fingerprint and
// the entity it was about.
type Record struct {
	Key         string
	Fingerprint []byte
	Metric      string
	EntityID    uuid.UUID
	Answer      Answer
}
