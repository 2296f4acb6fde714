-- SQLite's migration 0011 rebuilds its claim index, so that claims read it
-- in claim order instead of sorting every due event. PostgreSQL plans a
-- claim with its statistics and the time in hand, and already reads
-- outbox_events_claimable on a backlog (TestClaimReadsItsIndexInOrder), so
-- it has nothing to do here; the version is kept so that both stores know
-- the same migrations.
SELECT 1;
