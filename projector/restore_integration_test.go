//go:build integration

package projector

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
)

// BenchmarkRestoreMillionChecks times the snapshot half of a projector restart: a
// million check rows over twelve partitions are read back from ClickHouse as a projector
// assigned all twelve does (one streamed read of checks FINAL) and loaded into partition
// state, project hours included. The
// other half, the tail replay from the committed offsets, runs at the replay rate.
// Run: go test -tags integration -run '^$' -bench RestoreMillionChecks -benchtime 1x ./projector
func BenchmarkRestoreMillionChecks(b *testing.B) {
	const checks, partitions = 1_000_000, 12
	conn, db := testenv.ClickHouse(b)
	store := history.NewClickHouse(conn, db)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	project := schemas.NewID()
	batch := make([]history.CheckRow, 0, 100_000)
	for i := range checks {
		batch = append(batch, history.CheckRow{Partition: i % partitions, Version: uint64(i + 1), State: sampleCheck(project, i)})
		if len(batch) == cap(batch) || i == checks-1 {
			if err := store.Write(ctx, history.Batch{Checks: batch}); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := conn.Exec(ctx, "OPTIMIZE TABLE "+db+".checks FINAL"); err != nil {
		b.Fatal(err)
	}
	all := make([]int, partitions)
	for p := range all {
		all[p] = p
	}
	proj, err := New(Config{Brokers: []string{"unused:9092"}}, slog.New(slog.DiscardHandler), nil, store, store, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		start := time.Now()
		loaded := 0
		states := newRestorer(all)
		for p := range all {
			st, err := states.take(ctx, proj, p)
			if err != nil {
				b.Fatal(err)
			}
			loaded += st.checks.len()
		}
		if loaded != checks {
			b.Fatalf("restored %d checks, want %d", loaded, checks)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/restore")
		b.ReportMetric(float64(checks)/time.Since(start).Seconds(), "checks/s")
	}
}
