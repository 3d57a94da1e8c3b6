package main

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync/atomic"
	"testing"
	"time"
)

func TestLiveCheckBudget(t *testing.T) {
	for _, tc := range []struct {
		limit int64
		want  int
	}{
		{math.MaxInt64, 0}, // no GOMEMLIMIT: no bound
		{0, 0},
		{460 << 20, 535_938},
		{900, 1},
	} {
		if got := liveCheckBudget(tc.limit); got != tc.want {
			t.Errorf("liveCheckBudget(%d) = %d, want %d", tc.limit, got, tc.want)
		}
	}
}

// fakeFollower follows until its context ends, holding checks.
type fakeFollower struct {
	checks  atomic.Int64
	started atomic.Bool
	ended   chan struct{}
}

func (f *fakeFollower) Follow(ctx context.Context) error {
	f.started.Store(true)
	<-ctx.Done()
	close(f.ended)
	return nil
}

func (f *fakeFollower) CheckCount() int { return int(f.checks.Load()) }

type countedChecks struct {
	n        int
	failures int
}

func (c *countedChecks) CountChecks(context.Context) (int, error) {
	if c.failures > 0 {
		c.failures--
		return 0, errors.New("store unreachable")
	}
	return c.n, nil
}

func TestFollowWithinBudget(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	t.Run("a fleet over the budget is not followed", func(t *testing.T) {
		f := &fakeFollower{ended: make(chan struct{})}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := followWithinBudget(ctx, f, &countedChecks{n: 11}, 10, time.Millisecond, quiet); err != nil || f.started.Load() {
			t.Fatalf("err %v, followed %v; want nil and not followed", err, f.started.Load())
		}
	})
	t.Run("a fleet that grows past the budget stops the follower", func(t *testing.T) {
		f := &fakeFollower{ended: make(chan struct{})}
		f.checks.Store(10)
		done := make(chan error, 1)
		go func() {
			done <- followWithinBudget(context.Background(), f, &countedChecks{n: 10}, 10, time.Millisecond, quiet)
		}()
		select {
		case <-f.ended:
			t.Fatal("the follower stopped while within its budget")
		case <-time.After(50 * time.Millisecond):
		}
		f.checks.Store(11)
		select {
		case err := <-done:
			if err != nil || !f.started.Load() {
				t.Fatalf("err %v, followed %v; want nil after following", err, f.started.Load())
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the follower kept running with 11 checks for a budget of 10")
		}
	})
	t.Run("without a budget nothing is counted or watched", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		f := &fakeFollower{ended: make(chan struct{})}
		f.checks.Store(1 << 40)
		done := make(chan error, 1)
		go func() {
			done <- followWithinBudget(ctx, f, &countedChecks{failures: 1 << 30}, 0, time.Millisecond, quiet)
		}()
		time.Sleep(20 * time.Millisecond) //nolint:forbidigo // a watch, if any, would stop it by now
		if !f.started.Load() {
			t.Fatal("without a budget the follower did not start")
		}
		select {
		case <-f.ended:
			t.Fatal("without a budget the follower was stopped")
		default:
		}
		cancel()
		<-done
	})
}
