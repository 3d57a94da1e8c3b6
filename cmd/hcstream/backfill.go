package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/hcstream/hcstream/projector/history"
	chschema "github.com/hcstream/hcstream/schemas/clickhouse"
)

// backfillRollups fills the hourly rollups for the pings stored before a projector
// began counting them, and prints what it did as JSON.
func backfillRollups(ctx context.Context, cfg config, stdout, stderr io.Writer) int {
	conn, err := openClickHouse(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "hcstream:", err)
		return 1
	}
	defer conn.Close()
	if _, err := chschema.Migrate(ctx, conn, cfg.ClickHouseDatabase); err != nil {
		fmt.Fprintln(stderr, "hcstream: backfill-rollups: migrating ClickHouse:", err)
		return 1
	}
	began := time.Now()
	result, err := history.BackfillRollups(ctx, conn, cfg.ClickHouseDatabase, func(day time.Time) {
		fmt.Fprintf(stderr, "hcstream: backfill-rollups: filled from %s (%v)\n", day.Format(time.RFC3339), time.Since(began).Round(time.Second))
	})
	if err != nil {
		fmt.Fprintln(stderr, "hcstream: backfill-rollups:", err)
		return 1
	}
	out := map[string]any{"pings": result.Pings}
	if result.Pings > 0 {
		out["from"], out["before"] = result.From.Format(time.RFC3339), result.Before.Format(time.RFC3339)
	}
	line, _ := json.Marshal(out)
	fmt.Fprintln(stdout, string(line))
	return 0
}
