// Package outbox is the runtime of outboxgen: a transactional outbox and the
// processor that delivers its events.
//
// An application writes a data change and an outbox [Event] in one database
// transaction (the store's Enqueue is the only way in), so a crash can never
// keep one without the other. A [Processor] claims due events from a [Store]
// under a lease, hands each to a [Sender], and records the outcome fenced by
// the lease token: delivered events complete; a failure is retried with
// exponential backoff, and held against the event (spending an attempt, or
// killing it) only on evidence that the event is at fault: other events
// delivered between two of its failures (see "Evidence" on [Processor]).
// While nothing gets through, whatever the backend answers, delivery pauses
// and no event spends an attempt.
//
// Events that share an ordering key (by default the aggregate and its id) are
// delivered one at a time in the order they were enqueued, so a backend never
// sees an update before the create it follows.
//
// Two stores implement [Store]: sqlitestore (embedded, the default) and pgstore
// (PostgreSQL, safe for many processors in many processes). The import path
// ends in runtime; the package is named outbox so that it never shadows the
// standard library's runtime package.
package outbox
