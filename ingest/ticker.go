package ingest

import (
	"context"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// Ticker writes a ClockTicked into every partition of the events topic at every
// interval, so each partition's stream time advances while no ping arrives. Several
// ingest instances may all tick: stream time only moves forward.
type Ticker struct {
	producer *kafkarec.Producer
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger
}

// NewTicker ticks through producer every interval (default 1s).
func NewTicker(producer *kafkarec.Producer, interval time.Duration, now func() time.Time, logger *slog.Logger) *Ticker {
	if interval <= 0 {
		interval = time.Second
	}
	return &Ticker{producer: producer, interval: interval, now: now, log: logger.With("component", "ticker")}
}

// Run ticks until ctx ends.
func (t *Ticker) Run(ctx context.Context) error {
	ticker := time.NewTicker(t.interval)
	defer ticker.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		err := t.tick(ctx)
		switch {
		case err != nil && !failing:
			t.log.Warn("writing clock ticks", "err", err)
		case err == nil && failing:
			t.log.Info("writing clock ticks again")
		}
		failing = err != nil
	}
}

func (t *Ticker) tick(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, t.interval)
	defer cancel()
	partitions, err := t.producer.Partitions(ctx)
	if err != nil {
		return err
	}
	at := t.now().UTC().Truncate(time.Microsecond)
	msgs := make([]kafka.Message, partitions)
	for p := range msgs {
		m, err := kafkarec.Message(schemas.Event{ID: schemas.NewID(), At: at, Body: schemas.ClockTicked{}})
		if err != nil {
			return err
		}
		m.Key = kafkarec.PartitionKey(p, partitions)
		msgs[p] = m
	}
	return t.producer.Publish(ctx, msgs...)
}
