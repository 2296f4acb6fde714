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
// name and whose value is a valid header value, and any [WithHeader] extras
// (and [WithRouteHeader] ones for its event type).
//
// # Authentication
//
// With [WithTokenSource], every request carries "Authorization: Bearer
// <token>". A 401 makes the sender ask the [TokenSource] for a fresh token
// (concurrent sends that meet the same 401 share one refresh) and repeat the
// request once, with the same Idempotency-Key. A 401 that persists, or a
// token source that fails, means the credentials are out, not that the event
// is bad: the send fails as unavailable, so delivery pauses without spending
// attempts. A 401 without a token source is unavailable too; a 403 is about
// the event and permanent.
//
// # TLS
//
// The sender's own transport verifies servers against the system roots and
// requires TLS 1.2 or later; [WithTLSConfig] supplies a private CA or a
// client certificate for mutual TLS. A plain http:// base URL to a host other
// than localhost, 127.0.0.0/8 or ::1 makes [New] log a warning once (see
// [WithLogger]): the events would cross the network unencrypted.
//
// # Responses
//
// The response decides what happens to the event:
//
//	2xx, 409                   delivered (409: the backend already has this key)
//	408, 425, 429, 5xx         transient: retried with backoff; Retry-After wins
//	3xx                        permanent: redirects are never followed
//	401                        refresh the token and retry once (see above);
//	                           then unavailable
//	other 4xx, anything else   permanent: the event goes dead, others continue
//	no response                unavailable: delivery pauses, the attempt is
//	                           not counted (connection refused, DNS failure,
//	                           reset, TLS handshake failure, or no response
//	                           headers within the per-request timeout)
//	caller's ctx done          the wrapped ctx.Err(), unclassified: the
//	                           processor releases the event
//
// When a delivered response's body is a JSON object whose "id" field (see
// [WithRemoteIDField]) is a string or a number, it becomes the receipt's
// RemoteID. Response bodies are read up to 64 KiB. Error messages name the
// route and the status line and quote at most 200 bytes of the response
// body, with control characters removed; they never contain the request's
// payload, its header values or a token.
package httpsender
