package caddyapp

import (
	"context"
	"sync"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/backend"
	"github.com/shortify/shortify/internal/safedial"
	"github.com/shortify/shortify/webhooks"
	"github.com/shortify/shortify/webhooks/deliver"
	"github.com/shortify/shortify/webhooks/store"
)

// run opens the databases, retrying until they answer, then runs the
// consumer, the sender and the log's pruning until ctx is done.
func (a *App) run(ctx context.Context) {
	links, whs, closeAll := a.open(ctx)
	if links == nil {
		return // stopped before the databases answered
	}
	defer closeAll()
	sender, err := deliver.NewSender(deliver.SenderConfig{
		Store:       whs,
		Client:      safedial.Client(safedial.Options{AllowPrivate: a.allowPrivate(), Timeout: time.Duration(a.Timeout)}),
		Concurrency: a.Concurrency,
		Timeout:     time.Duration(a.Timeout),
		Metrics:     a.metrics,
		Logger:      a.logger,
	})
	if err != nil {
		a.logger.Error("shortify_webhooks: no sender", "err", err)
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { _ = sender.Run(ctx) })
	wg.Go(func() { a.prune(ctx, whs) })
	wg.Go(func() { a.consume(ctx, whs, links, sender.Kick) })
}

// open opens the link store and the webhooks store, retrying every
// retryEvery until both answer or ctx is done (nil stores then).
func (a *App) open(ctx context.Context) (linkstore.Store, webhooks.Store, func()) {
	for {
		links, err := backend.Open(ctx, linkstore.Config{DSN: a.Database})
		if err == nil {
			whs, err := store.Open(ctx, store.Config{DSN: a.Database})
			if err == nil {
				return links, whs, func() { whs.Close(); links.Close() }
			}
			links.Close()
			a.logger.Error("shortify_webhooks: cannot open the webhooks store", "err", err, "retry_in", retryEvery)
		} else {
			a.logger.Error("shortify_webhooks: cannot open the link store", "err", err, "retry_in", retryEvery)
		}
		pause(ctx)
		if ctx.Err() != nil {
			return nil, nil, nil
		}
	}
}

// consume runs consumers one after the other: one that stops on an
// error (the database, Kafka) is replaced after retryEvery by a new one,
// which resumes at the group's last commit.
func (a *App) consume(ctx context.Context, whs webhooks.Store, links linkstore.Store, kick func()) {
	sec, err := a.KafkaSecurity.Opts()
	if err != nil {
		a.logger.Error("shortify_webhooks: kafka security", "err", err)
		return
	}
	for ctx.Err() == nil {
		c, err := deliver.NewConsumer(deliver.ConsumerConfig{
			Brokers: a.Brokers, ClicksTopic: a.ClicksTopic, LinkEventsTopic: a.LinkEventsTopic, Group: a.Group,
			SessionTimeout: time.Duration(a.SessionTimeout), Store: whs, Links: links, PublicURL: a.PublicURL,
			ClientOpts: sec, OnEnqueue: kick, Metrics: a.metrics, Logger: a.logger,
		})
		if err == nil {
			a.logger.Info("shortify_webhooks: consuming", "brokers", a.Brokers, "group", a.Group)
			err = c.Run(ctx)
		}
		if err == nil || ctx.Err() != nil {
			return
		}
		a.logger.Error("shortify_webhooks: consumer stopped, restarting", "err", err, "retry_in", retryEvery)
		pause(ctx)
	}
}

// prune deletes delivered and failed deliveries older than the
// retention, at start and every pruneEvery.
func (a *App) prune(ctx context.Context, whs webhooks.Store) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		n, err := whs.Prune(ctx, time.Now().Add(-time.Duration(a.Retention)))
		switch {
		case err != nil && ctx.Err() == nil:
			a.logger.Warn("shortify_webhooks: prune failed", "err", err)
		case n > 0:
			a.logger.Info("shortify_webhooks: pruned the delivery log", "deliveries", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
