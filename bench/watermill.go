package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// forwarderTopic is the SQL topic the forwarder reads its envelopes from.
const forwarderTopic = "forwarder"

// watermillLogger keeps watermill quiet.
var watermillLogger = watermill.NopLogger{}

// watermillSubscriberConfig is the SQL subscriber of the forwarder, with
// the PostgreSQL schema and offsets adapters.
func watermillSubscriberConfig(batch int) wsql.SubscriberConfig {
	return wsql.SubscriberConfig{
		SchemaAdapter:  wsql.DefaultPostgreSQLSchema{SubscribeBatchSize: batch},
		OffsetsAdapter: wsql.DefaultPostgreSQLOffsetsAdapter{},
	}
}

// initWatermill creates the forwarder topic's message and offsets tables.
func initWatermill(ctx context.Context, dbURL string) error {
	pool, err := openPool(ctx, dbURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromPgx(pool), watermillSubscriberConfig(100), watermillLogger)
	if err != nil {
		return fmt.Errorf("watermill subscriber: %w", err)
	}
	defer sub.Close()
	if err := sub.SubscribeInitialize(forwarderTopic); err != nil {
		return fmt.Errorf("watermill schema: %w", err)
	}
	return nil
}

// fillWatermill publishes messages from..from+n-1 through the forwarder's
// publisher (which wraps each in an envelope for the forwarder topic),
// fillBatch per transaction: the outbox pattern as watermill does it.
func fillWatermill(ctx context.Context, dbURL string, from, n int) error {
	pool, err := openPool(ctx, dbURL, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	for start := from; start < from+n; start += fillBatch {
		end := min(start+fillBatch, from+n)
		if err := publishBatch(ctx, pool, start, end); err != nil {
			return fmt.Errorf("publish messages %d to %d: %w", start, end-1, err)
		}
	}
	return nil
}

// publishBatch publishes messages start..end-1 in one transaction.
func publishBatch(ctx context.Context, pool *pgxpool.Pool, start, end int) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		pub, err := wsql.NewPublisher(wsql.TxFromPgx(tx), wsql.PublisherConfig{SchemaAdapter: wsql.DefaultPostgreSQLSchema{}}, watermillLogger)
		if err != nil {
			return fmt.Errorf("watermill publisher: %w", err)
		}
		fwd := forwarder.NewPublisher(pub, forwarder.PublisherConfig{ForwarderTopic: forwarderTopic})
		msgs := make([]*message.Message, 0, end-start)
		for i := start; i < end; i++ {
			payload, err := json.Marshal(benchWeight(i))
			if err != nil {
				return fmt.Errorf("encode payload: %w", err)
			}
			msg := message.NewMessage(watermill.NewUUID(), payload)
			msg.SetContext(ctx)
			msgs = append(msgs, msg)
		}
		return fwd.Publish(benchEventType, msgs...)
	})
}

// discardPublisher is the forwarder's destination: it counts and drops.
type discardPublisher struct{ n atomic.Int64 }

// Publish implements message.Publisher.
func (p *discardPublisher) Publish(_ string, msgs ...*message.Message) error {
	p.n.Add(int64(len(msgs)))
	return nil
}

// Close implements message.Publisher.
func (p *discardPublisher) Close() error { return nil }

// drainWatermill runs a watermill forwarder from the SQL subscriber to a
// no-op publisher on a database holding total messages, and measures how
// fast their offsets are acknowledged, polling the offsets table every
// 50 ms.
func drainWatermill(ctx context.Context, dbURL string, total, batch int, limit time.Duration) (drainResult, error) {
	pool, err := openPool(ctx, dbURL, 10)
	if err != nil {
		return drainResult{}, err
	}
	defer pool.Close()
	var first, last int64
	table := pgx.Identifier{"watermill_" + forwarderTopic}.Sanitize()
	if err := pool.QueryRow(ctx, `SELECT min("offset"), max("offset") FROM `+table).Scan(&first, &last); err != nil {
		return drainResult{}, fmt.Errorf("read offsets of the backlog: %w", err)
	}
	if int(last-first+1) != total {
		return drainResult{}, fmt.Errorf("backlog holds offsets %d to %d, not %d messages", first, last, total)
	}
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromPgx(pool), watermillSubscriberConfig(batch), watermillLogger)
	if err != nil {
		return drainResult{}, fmt.Errorf("watermill subscriber: %w", err)
	}
	defer sub.Close()
	out := &discardPublisher{}
	fwd, err := forwarder.NewForwarder(sub, out, watermillLogger, forwarder.Config{ForwarderTopic: forwarderTopic})
	if err != nil {
		return drainResult{}, fmt.Errorf("watermill forwarder: %w", err)
	}

	c := newCounter(total)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	offsets := pgx.Identifier{"watermill_offsets_" + forwarderTopic}.Sanitize()
	pollErr := make(chan error, 1)
	go func() {
		err := pollAcked(runCtx, pool, offsets, first, c)
		if err != nil {
			stop()
		}
		pollErr <- err
	}()

	before := takeCPU()
	start := time.Now()
	ran := make(chan error, 1)
	go func() { ran <- fwd.Run(runCtx) }()
	res := c.wait(runCtx, start, limit)
	res.CPU = takeCPU().since(before)
	stop()
	closeErr := fwd.Close()
	runErr := <-ran
	if err := <-pollErr; err != nil && ctx.Err() == nil {
		return res, err
	}
	if err := errors.Join(runErr, closeErr); err != nil && ctx.Err() == nil {
		return res, fmt.Errorf("watermill forwarder: %w", err)
	}
	if res.Done == 0 {
		return res, errors.New("no message was forwarded")
	}
	return res, ctx.Err()
}

// pollAcked counts, every 50 ms, the messages whose offset the subscriber
// acknowledged, until ctx ends.
func pollAcked(ctx context.Context, pool *pgxpool.Pool, offsets string, first int64, c *counter) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var counted int64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var acked *int64
		if err := pool.QueryRow(ctx, `SELECT max(offset_acked) FROM `+offsets).Scan(&acked); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("poll acknowledged offset: %w", err)
		}
		if acked != nil && *acked >= first {
			if n := *acked - first + 1; n > counted {
				c.add(n - counted)
				counted = n
			}
		}
	}
}
