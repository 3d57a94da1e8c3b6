package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// flipWait bounds how long a flip probe waits for its flip on the topic.
const flipWait = 10 * time.Second

// probeFlips flips a check of its own n times, evenly spread over d, with /fail and
// success pings in turn, and times each flip from the ping's request to its
// StatusChanged event arriving on the flips topic, read as a notifier reads it.
func probeFlips(ctx context.Context, client *http.Client, o options, check string, n int, d time.Duration) ([]time.Duration, error) {
	id, err := schemas.ParseID(check)
	if err != nil {
		return nil, fmt.Errorf("flip probe check %q: %w", check, err)
	}
	brokers := strings.Split(o.brokers, ",")
	ends, err := partitionEnds(ctx, brokers, o.flipsTopic)
	if err != nil {
		return nil, err
	}
	partition := kafkarec.Partition(kafkarec.Key(schemas.Event{CheckID: id}), len(ends))
	reader := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: o.flipsTopic, Partition: partition, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
	defer reader.Close()
	if err := reader.SetOffset(ends[partition]); err != nil {
		return nil, err
	}
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	flips := make(chan flipSeen, n)
	readErr := make(chan error, 1)
	go func() { readErr <- readFlips(readCtx, reader, id, flips) }()

	spacing := d / time.Duration(n)
	out := make([]time.Duration, 0, n)
	for i := range n {
		start := time.Now()
		suffix, want := "/fail", schemas.StatusDown
		if i%2 == 1 {
			suffix, want = "", schemas.StatusUp
		}
		if err := pingOnce(ctx, client, o.baseURL+"/ping/"+check+suffix); err != nil {
			return nil, err
		}
		timeout := time.NewTimer(flipWait)
		for waiting := true; waiting; {
			select {
			case f := <-flips:
				if f.to == want {
					out = append(out, f.at.Sub(start))
					waiting = false
				}
			case err := <-readErr:
				timeout.Stop()
				return nil, fmt.Errorf("reading %s: %w", o.flipsTopic, err)
			case <-timeout.C:
				return nil, fmt.Errorf("flip probe %d: no flip to %s on %s within %v of the ping", i+1, want, o.flipsTopic, flipWait)
			case <-ctx.Done():
				timeout.Stop()
				return nil, ctx.Err()
			}
		}
		timeout.Stop()
		if wait := spacing - time.Since(start); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	return out, nil
}

// flipSeen is a flip of the probe's check and when it arrived.
type flipSeen struct {
	to schemas.Status
	at time.Time
}

// readFlips sends the flips of check read from reader to flips until ctx ends.
func readFlips(ctx context.Context, reader *kafka.Reader, check schemas.ID, flips chan<- flipSeen) error {
	for {
		msg, err := reader.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		at := time.Now()
		ev, err := kafkarec.Event(msg)
		if err != nil || ev.CheckID != check {
			continue
		}
		if change, ok := ev.Body.(schemas.StatusChanged); ok {
			select {
			case flips <- flipSeen{to: change.New, at: at}:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// pingOnce sends one ping and requires its acknowledgement.
func pingOnce(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("flip probe ping: " + resp.Status)
	}
	return nil
}
