// Package inbox is the receiving end of an outbox: an http.Handler that
// takes the events runtime/httpsender posts, one per request or in
// batches, and applies each change exactly once, in version order, in the
// transaction that records its idempotency key. Generated receiver
// packages (see docs/SPEC.md, "What is generated") build it from their
// spec with New; this package holds what does not depend on the spec.
//
// # Requests
//
// Each event is posted to its metric's route with its payload as the JSON
// body, Content-Type application/json, the event's id as Idempotency-Key
// and its type as X-Outbox-Event-Type. A batch is posted to the batch
// route in httpsender's format ({"events":[{"id","type","path","attempt",
// "metadata","payload"}]}); each event in it gets the answer it would get
// alone, as one result of a 200 answer ({"results":[{"id","status",
// "remote_id","applied"} or {"id","status","type","title",…}]}).
//
// # Idempotency
//
// The handler follows the IETF Idempotency-Key draft
// (draft-ietf-httpapi-idempotency-key-header), as Stripe does:
//
//	no Idempotency-Key               400
//	a key that is not a UUID         400
//	first request with a key         processed; its answer is stored with the key
//	the same key and body again      the stored answer again (same status, same
//	                                 backend id), Idempotent-Replayed: true
//	the same key, another body       422 (the fingerprint covers the event type
//	                                 and the payload, byte for byte)
//	the same key while the first     409 with Retry-After: 1, by this receiver
//	request is still processed       and by any other sharing its store
//
// Requests refused before processing (a bad key, an invalid payload, a
// refused subject) store nothing: a corrected request may use the key.
// A store keeps the record of a key until its Purge deletes it, after a
// retention (pginbox.DefaultRetention, 7 days); entities' versions are kept
// for good, so a redelivery after that is still not applied twice.
//
// # Order
//
// Each entity (a metric's entry, by its id) keeps its highest applied
// version in the store. A change above it is applied and answered 201 if
// it creates the entity at the receiver, else 200; a change at or below it
// (a late redelivery, an operator retrying an old event, a redelivery after
// its key was purged) is answered 200 with "applied": false and not
// applied; a deletion leaves a tombstone at its version, so older changes
// never resurrect the entity. An entity belongs to the user of its first
// change: a change of it for another user is 403. Every answer carries the
// entity's backend id, a random UUID given at its first change: unique per
// entity, the same for all of its changes.
//
// # Security
//
// New refuses to build a handler without an Authenticator
// (WithAuthenticator; BearerToken compares in constant time and refuses
// an empty token) unless WithoutAuthentication says so. An Authorizer
// (WithAuthorizer) sees the authenticated subject and each payload's user
// id. Bodies are bounded (Limits); errors are RFC 9457 problem documents
// (application/problem+json) whose text names fields but never repeats a
// value of the request. Serve the handler with NewServer, or with the
// timeouts it sets.
//
// # Answers
//
//	200, 201   {"id": backend id, "applied": bool}
//	400        missing or bad key, wrong event type, malformed body
//	401        missing or wrong credentials (WWW-Authenticate: Bearer)
//	403        the Authorizer refused, or the entity belongs to another user
//	404, 405   a path nothing is posted to; a method other than POST
//	409        the key is in progress (Retry-After)
//	413, 415   a body over the limits; a body that is not application/json
//	422        an invalid payload ("errors" names each field), a reused key
//	500        the change could not be applied or recorded: try again
//	503        the Authenticator cannot tell now (Retry-After)
//
// httpsender classifies them so that nothing is lost: 2xx delivered, 409
// tried again soon, 5xx and 503 retried with backoff, 401 refreshes its
// token, the other 4xx are permanent.
package inbox
