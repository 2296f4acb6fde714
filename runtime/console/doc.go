// Package console is a web console for an outbox: the page an on-call
// engineer opens to see whether events flow, find the dead ones, read what
// went wrong and retry them.
//
// New returns an http.Handler that an application mounts on its own
// server, or that "outboxgen ui" and "outboxctl ui" serve:
//
//	h, err := console.New(console.Options{
//		Store:  store, // *sqlitestore.Store or *pgstore.Store
//		Auth:   console.BasicAuth("ops", password),
//		Prefix: "/outbox",
//	})
//	mux.Handle("/outbox/", h)
//
// Its pages are rendered on the server from embedded templates, with one
// small embedded script that refreshes the overview; nothing is loaded
// from elsewhere, and the Content-Security-Policy says so.
//
//   - Overview: events by status and type, the oldest waiting event's age,
//     deliveries and failures per minute over the last hour, the processors
//     and whether delivery is paused, refreshed every few seconds.
//   - Events: dead and failed first, filtered by status, type, user and
//     age, in pages that cost the same at the millionth event as at the
//     first (keyset pagination on the store's Browser).
//   - An event: its metadata, attempts and last error; its payload, which
//     is health data, only after an explicit "reveal", which is logged
//     with who and when.
//   - Actions, only with Options.AllowActions: retry and discard an event,
//     retry every dead or failed event of a filter, pause and resume
//     delivery (where the store supports it). Each asks for confirmation,
//     naming the count, and is protected against cross-site requests.
//
// Every request must pass Options.Auth. Nothing the console logs holds a
// credential or a payload.
package console
