// Package httpsender delivers outbox events as HTTP POST requests. Its
// [Sender] implements [outbox.Sender].
//
// Each event is posted to the base URL plus the route of its type, with the
// event's payload as the JSON body and the event's id as the Idempotency-Key
// header. The key is the same on every attempt, so a backend that remembers
// it can answer a redelivery (after a lost response, a retry or a crash)
// without applying the change twice. Every request also carries
// X-Outbox-Event-Type, X-Outbox-Attempt, User-Agent: outboxgen, one
// X-Outbox-Meta-<Key> header per metadata entry whose key is a valid header
// name and whose value is a valid header value, and any [WithHeader] extras.
//
// The response decides what happens to the event:
//
//	2xx, 409                   delivered (409: the backend already has this key)
//	408, 425, 429, 5xx         transient: retried with backoff; Retry-After wins
//	3xx                        permanent: redirects are never followed
//	other 4xx, anything else   permanent: the event goes dead, others continue
//	no response                unavailable: delivery pauses, the attempt is
//	                           not counted (connection refused, DNS failure,
//	                           reset, or no response headers within the
//	                           per-request timeout)
//	caller's ctx done          the wrapped ctx.Err(), unclassified: the
//	                           processor releases the event
//
// When a delivered response's body is a JSON object whose "id" field (see
// [WithRemoteIDField]) is a string or a number, it becomes the receipt's
// RemoteID. Error messages name the route and the status and quote at most
// 200 bytes of the response body; they never contain the request payload.
package httpsender
