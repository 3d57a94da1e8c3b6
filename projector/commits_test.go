package projector

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeCommits is the projectors' consumer group as a follower polls it.
type fakeCommits struct {
	mu        sync.Mutex
	committed map[int]int64
	fail      error
	polls     atomic.Int64
}

func (f *fakeCommits) fetch(context.Context) (map[int]int64, error) {
	f.polls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int]int64{}
	for k, v := range f.committed {
		out[k] = v
	}
	return out, f.fail
}

func (f *fakeCommits) set(partition int, next int64, fail error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.committed[partition] = next
	f.fail = fail
}

// A follower vouches for a write once the projectors have committed past it and it has
// folded the write itself; it polls the commits only while a write waits.
func TestFollowerAwaitsCommitsThenTheFold(t *testing.T) {
	commits := &fakeCommits{committed: map[int]int64{0: 3}}
	p := &Projector{live: map[int]*partitionState{}, follows: true}
	reg := prometheus.NewRegistry()
	p.commits = newCommitWatch(commits.fetch, time.Millisecond, slog.New(slog.DiscardHandler), reg)
	waiting := func() float64 {
		t.Helper()
		families, err := reg.Gather()
		if err != nil || len(families) != 1 {
			t.Fatalf("gathering: %v, %d families", err, len(families))
		}
		return families[0].GetMetric()[0].GetGauge().GetValue()
	}
	followed, elsewhere, _ := serveOneCheck(p, 4)
	ctx := context.Background()

	if ok, err := p.AwaitWritten(ctx, elsewhere, 1); ok || err != nil {
		t.Fatalf("check of a partition not followed here: %v, %v; want false, nil", ok, err)
	}
	done := inBackground(func() (bool, error) { return p.AwaitWritten(ctx, followed, 4) })
	stillWaiting(t, done, 30*time.Millisecond, "the group has committed only up to offset 3")
	if n := waiting(); n != 1 {
		t.Errorf("writes waiting: %v, want 1", n)
	}
	commits.set(0, 4, errors.New("coordinator moving")) // a failed poll changes nothing
	stillWaiting(t, done, 10*time.Millisecond, "the polls that said so failed")
	commits.set(0, 4, nil)
	if !within(t, done, "group committed past the write") {
		t.Fatal("the group committed past offset 3, yet AwaitWritten did not vouch for version 4")
	}
	if n := waiting(); n != 0 {
		t.Errorf("writes waiting after the wait: %v, want 0", n)
	}

	// Committed, but not folded here yet: the follower's own reads would miss it.
	commits.set(0, 10, nil)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if ok, err := p.AwaitWritten(short, followed, 6); !ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("committed, not folded: %v, %v; want true and the deadline", ok, err)
	}

	// With no write waiting, the commits are not polled.
	time.Sleep(10 * time.Millisecond) //nolint:forbidigo // the last poll in flight ends
	polls := commits.polls.Load()
	time.Sleep(30 * time.Millisecond) //nolint:forbidigo // time for polls that should not happen
	if later := commits.polls.Load(); later != polls {
		t.Errorf("%d polls with no write waiting", later-polls)
	}
}

// A follower serves a partition only once it has read to the end the broker reported.
func TestFetcherCaughtUp(t *testing.T) {
	f := newFetcher(nil, "events", 0, 5, 1, 1, slog.New(slog.DiscardHandler))
	if f.caughtUp() {
		t.Error("caught up before any fetch answered")
	}
	f.fetched, f.highWater = true, 9
	if f.caughtUp() {
		t.Error("caught up at offset 5 of 9")
	}
	f.offset = 9
	if !f.caughtUp() {
		t.Error("not caught up at the reported end")
	}
}
