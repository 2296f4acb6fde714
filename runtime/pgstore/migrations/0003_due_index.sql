-- The processor asks when the next event is due whenever it runs out of
-- claimable work; without this index the answer is a scan of every
-- unfinished event.
CREATE INDEX outbox_events_due ON outbox_events (run_at)
    WHERE is_head AND status IN ('pending', 'failed');
