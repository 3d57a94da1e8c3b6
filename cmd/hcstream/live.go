package main

import (
	"context"
	"log/slog"
	"math"
	"time"
)

// liveBytesPerCheck is the heap one followed check costs: a query process following
// 1.09 million checks had 472 MB of heap, kept check lists included (README,
// Performance, ninth session).
const liveBytesPerCheck = 450

// liveCheckBudget is how many checks a query role may fold itself under memoryLimit
// (GOMEMLIMIT): half of it, leaving the rest to the garbage collector's headroom and
// the API. 0 means no bound, when no limit is set.
func liveCheckBudget(memoryLimit int64) int {
	if memoryLimit <= 0 || memoryLimit == math.MaxInt64 {
		return 0
	}
	return int(memoryLimit / 2 / liveBytesPerCheck)
}

// follower folds the events topic for reads (projector.NewFollower).
type follower interface {
	Follow(ctx context.Context) error
	CheckCount() int
}

// checkCounter counts the checks a restore would load.
type checkCounter interface {
	CountChecks(ctx context.Context) (int, error)
}

// followWithinBudget runs the follower while the checks it holds fit budget (0: no
// bound). A fleet too large from the start is not followed, and a fleet that grows past
// the budget stops the follower. Reads then come from ClickHouse: slower, but the
// process does not run out of memory, which an upgrade that turned HC_QUERY_LIVE on
// under an old memory limit would otherwise risk.
func followWithinBudget(ctx context.Context, f follower, stored checkCounter, budget int, every time.Duration, logger *slog.Logger) error {
	if budget == 0 {
		return f.Follow(ctx)
	}
	tooMany := func(checks int) {
		logger.Error("too many checks to fold within the memory limit; the query role reads ClickHouse instead",
			"count", checks, "budget", budget, "remedy", "raise GOMEMLIMIT with the container's memory limit, or set HC_QUERY_LIVE=false")
	}
	for {
		checks, err := stored.CountChecks(ctx)
		if err == nil && checks > budget {
			tooMany(checks)
			return nil
		}
		if err == nil {
			break
		}
		logger.Warn("counting checks before following the events topic", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if checks := f.CheckCount(); checks > budget {
				tooMany(checks)
				stop()
				return
			}
		}
	}()
	return f.Follow(ctx)
}
