// Package httpsender delivers outbox events as HTTP POST requests. Its
// [Sender] implements [outbox.Sender], and [outbox.BatchSender] for
// backends with a batch endpoint.
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
// The response gives the failure its class; the processor then weighs it
// against other deliveries (see "Evidence" in the outbox package: no class
// kills an event or spends an attempt while nothing gets through):
//
//	2xx                        delivered
//	409                        in progress: under the IETF Idempotency-Key
//	                           draft, a request with this key is still being
//	                           processed; tried again soon (Retry-After wins),
//	                           no attempt spent. [WithConflictAsDelivered]
//	                           makes it mean delivered, for backends that
//	                           answer a repeated key with 409
//	408, 425, 429, 5xx         transient; Retry-After wins over the backoff
//	3xx                        permanent: redirects are never followed
//	401                        refresh the token and retry once (see above);
//	                           then unavailable
//	422, other 4xx, other      permanent (422: the key came with a different
//	                           body, a bug worth a dead event)
//	not sent                   unavailable: connection refused, DNS failure,
//	                           TLS handshake failure or alert, or the request
//	                           not written within the per-request timeout
//	sent, no response          unanswered: the connection ended
//	                           (dropped, see [outbox.DroppedError]), or no
//	                           response headers came within the timeout,
//	                           after the request was written whole (traced
//	                           with net/http/httptrace) on any try; the
//	                           backend may have crashed on this very event
//	caller's ctx done          the wrapped ctx.Err(), unclassified: the
//	                           processor decides
//
// A backend that follows the IETF draft answers a repeated key whose first
// request completed with that request's original response (a 2xx and the
// same id), so a redelivery after a lost answer is simply delivered.
//
// When a delivered response's body is a JSON object whose "id" field (see
// [WithRemoteIDField]) is a string or a number, it becomes the receipt's
// RemoteID. Response bodies are read up to 64 KiB. Error messages name the
// route and the status line. Of an error response's body they keep only
// the "type" and "title" of an RFC 9457 problem document (Content-Type
// application/problem+json), at most 200 bytes each with control characters
// removed: an error body may echo the request, and error messages end up
// in the outbox's last_error, in logs and on operators' screens. They never
// contain the request's payload, its header values or a token.
//
// # Batches
//
// [Sender.SendBatch] delivers several events at once (a processor calls it
// when its Config.SendBatch is above 1). With [WithBatchRoute] it makes one
// POST to the base URL plus the batch route, carrying Content-Type:
// application/json, the User-Agent, the [WithHeader] extras and, with a
// token source, the bearer token (a 401 is handled as above, the whole
// request repeated once). The body holds one item per event, in order:
//
//	POST /v1/batch
//	Content-Type: application/json
//
//	{"events":[
//	  {"id":"0196a3c2-5a1e-7c3b-9d2e-4f6a8b0c1d2e","type":"weight.created","path":"/v1/weight",
//	   "attempt":1,"metadata":{"tenant":"acme"},"payload":{"kg":71.5}},
//	  {"id":"0196a3c2-5a1f-7e01-8a3b-5c7d9e1f2a3b","type":"mood.created","path":"/v1/mood",
//	   "attempt":3,"payload":{"score":4}}
//	]}
//
// An item carries what a single request's headers would: "id" is the
// event's id, its idempotency key; "type" its event type; "path" the route
// of its type, which tells the backend how the event would have been
// posted alone; "attempt" the attempt number; "metadata" the metadata
// entries that would become X-Outbox-Meta-* headers, under their own keys
// (absent when there are none); and "payload" the event's JSON payload,
// byte for byte. The backend answers 2xx with one result per event, in any
// order:
//
//	200 OK
//	Content-Type: application/json
//
//	{"results":[
//	  {"id":"0196a3c2-5a1e-7c3b-9d2e-4f6a8b0c1d2e","status":201,"remote_id":"w-981"},
//	  {"id":"0196a3c2-5a1f-7e01-8a3b-5c7d9e1f2a3b","status":422,"title":"score out of range"}
//	]}
//
// A result's "status" is the HTTP status the backend would have answered
// to the event alone, and decides the event's fate as in the table above
// (a 401 fails as unavailable, and a result carries no Retry-After). Of a
// failed result's other fields, the event's error quotes the string "type"
// and "title", as of a problem document, and nothing else. A delivered event's
// remote id is read from the field named by [WithRemoteIDField], or from
// "remote_id" while that is "id", which in a result names the event. An
// event without a result (none has its id, or its status is not a number
// from 100 to 599), or every event when the body is not such an object or
// exceeds 1 MiB, fails as transient: it is retried under the same
// idempotency key. Within a result, a member given twice counts by its
// last value, as encoding/json decodes it; of two results for one event,
// the first counts.
//
// A response that is not 2xx is about the request as a whole:
//
//	408, 425, 429, other 5xx   every event fails as transient, as a single
//	                           event would; Retry-After wins
//	401                        refresh the token and retry once; then every
//	                           event fails as unavailable
//	no response                every event fails as unavailable, as a single
//	                           event would
//	anything else              the events are sent one by one, each to its
//	                           own route (404, 405 and 501 mean there is no
//	                           batch endpoint; 413, that the batch is too
//	                           large); the refusal is logged once
//
// A refusal of the request as a whole is about the endpoint, not the
// events, whose verdicts come in the results: neither killing them nor
// holding them back would be right, so each gets the verdict of its own
// route instead, and a misconfigured batch route costs speed, not data.
//
// Some events are not put in the batch request. An event whose type has no
// route fails permanently without being sent; an event whose type has
// [WithRouteHeader] headers, which a request shared with other types cannot
// carry, or whose payload is not valid JSON, is sent alone with
// [Sender.Send] while the batch request is in flight. Without
// WithBatchRoute, SendBatch sends every event alone, all at once.
package httpsender
