// Command hcgen fills a ClickHouse database with synthetic history (pings, their hourly
// rollups and flips) and times the analytics queries of the query API against it.
//
//	hcgen -database hcstream_bench -pings 100000000 -checks 10000 -days 30
//
// The data goes straight into the tables, bypassing Kafka and the projector: it exists
// to measure reads at a volume that would take days to ping in. Pings are spread evenly
// over the window and over the checks (of each check's pings, 80 % success, 5 % start,
// 5 % fail, 5 % log, and 5 % successes that complete a run). check_hours and
// project_hours (over twelve partitions) are computed from them with the rollups'
// definitions; every check goes down once a day for ten minutes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/query/store"
	"github.com/hcstream/hcstream/schemas"
	chschema "github.com/hcstream/hcstream/schemas/clickhouse"
)

type options struct {
	addr, database string
	pings          int64
	checks         int
	days           int
	repeat         int
	skipGenerate   bool
}

func main() {
	var o options
	flag.StringVar(&o.addr, "clickhouse", "127.0.0.1:9000", "ClickHouse native address (loopback)")
	flag.StringVar(&o.database, "database", "hcstream_bench", "database to fill (created and migrated; never the live one)")
	flag.Int64Var(&o.pings, "pings", 100_000_000, "pings to generate")
	flag.IntVar(&o.checks, "checks", 10_000, "checks the pings are spread over (one project)")
	flag.IntVar(&o.days, "days", 30, "days the pings are spread over, ending now")
	flag.IntVar(&o.repeat, "repeat", 20, "times each query is run")
	flag.BoolVar(&o.skipGenerate, "query-only", false, "time the queries on data generated before")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "hcgen:", err)
		os.Exit(1)
	}
}

// checkID is the UUID of synthetic check i, as the generating SQL spells it.
func checkID(i int) schemas.ID {
	id, _ := schemas.ParseID(fmt.Sprintf("00000000-0000-4000-8000-%012x", 1<<44+i))
	return id
}

const checkIDSQL = "toUUID(concat('00000000-0000-4000-8000-', lower(hex(toUInt64(17592186044416 + %s)))))"

var project = schemas.ID{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x80, 0x00, 0xbe, 0x9c, 0x00, 0x00, 0x00, 0x01}

func run(ctx context.Context, o options) error {
	if err := chschema.ValidDatabase(o.database); err != nil || o.database == "hcstream" {
		return fmt.Errorf("database %q: choose a new name (letters, digits, underscores), never the live one", o.database)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{o.addr}, ReadTimeout: 30 * time.Minute, DialTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	end := time.Now().UTC().Truncate(time.Hour)
	start := end.Add(-time.Duration(o.days) * 24 * time.Hour)
	if !o.skipGenerate {
		if err := generate(ctx, conn, o, start, end); err != nil {
			return err
		}
	}
	st := store.NewClickHouse(conn, o.database)
	oneCheck := store.Scope{Project: project, Check: checkID(o.checks / 2)}
	fleet := store.Scope{Project: project}
	last30 := end.Add(-30 * 24 * time.Hour)
	queries := []struct {
		name string
		run  func() error
	}{
		{"one check, 30 days, hourly series (check_hours)", func() error {
			_, err := st.Buckets(ctx, oneCheck, last30, end, time.Hour)
			return err
		}},
		{"one check, 30 days, run durations (pings)", func() error {
			_, err := st.RunDurations(ctx, oneCheck, last30, end)
			return err
		}},
		{"one check, 30 days, status history (flips)", func() error {
			_, err := st.StatusHistories(ctx, oneCheck, last30, end)
			return err
		}},
		{"fleet, 30 days, hourly series (project_hours)", func() error {
			_, err := st.Buckets(ctx, fleet, last30, end, time.Hour)
			return err
		}},
		{"fleet, 30 days, daily series (project_hours)", func() error {
			_, err := st.Buckets(ctx, fleet, last30, end, 24*time.Hour)
			return err
		}},
		{"fleet, 30 days, status histories (flips)", func() error {
			_, err := st.StatusHistories(ctx, fleet, last30, end)
			return err
		}},
		{"fleet, 30 days, run durations (project_hours)", func() error {
			_, err := st.RunDurations(ctx, fleet, last30, end)
			return err
		}},
	}
	fmt.Printf("%-52s %10s %10s %10s\n", "query", "p50", "p90", "max")
	for _, q := range queries {
		var took []time.Duration
		for range o.repeat {
			begin := time.Now()
			if err := q.run(); err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			took = append(took, time.Since(begin))
		}
		slices.Sort(took)
		at := func(f float64) time.Duration { return took[int(f*float64(len(took)-1))].Round(100 * time.Microsecond) }
		fmt.Printf("%-52s %10v %10v %10v\n", q.name, at(0.5), at(0.9), took[len(took)-1].Round(100*time.Microsecond))
	}
	return nil
}

func generate(ctx context.Context, conn driver.Conn, o options, start, end time.Time) error {
	if _, err := chschema.Migrate(ctx, conn, o.database); err != nil {
		return err
	}
	db := o.database
	for _, table := range []string{"pings", "check_hours", "project_hours", "flips"} {
		if err := conn.Exec(ctx, "TRUNCATE TABLE "+db+"."+table); err != nil {
			return err
		}
	}
	span := end.Unix() - start.Unix()
	const chunk = 10_000_000
	began := time.Now()
	for from := int64(0); from < o.pings; from += chunk {
		n := min(chunk, o.pings-from)
		// Ping number k goes to check k mod checks at start + k*span/pings: every check
		// pings at a steady pace through the window.
		insert := fmt.Sprintf("INSERT INTO %s.pings (project_id, check_id, event_id, n, ts, received_us, kind, exit_status, rid, duration_us, scheme, remote_addr, method, ua, body) "+
			"SELECT toUUID('%s'), "+checkIDSQL+", "+
			"toUUID(concat('00000000-0000-4000-9000-', lower(hex(toUInt64(17592186044416 + k))))), intDiv(k, %d) + 1, toDateTime(at_s), at_s * 1000000, "+
			"multiIf(r = 1, 'start', r = 2, 'fail', r = 3, 'log', 'success'), -1, '', if(r = 4, toInt64(k %% 600) * 1000000, toInt64(-1)), "+
			"'http', '127.0.0.1', 'GET', 'curl/8.5.0', '' "+
			"FROM (SELECT number + %d AS k, k %% %d AS i, (intDiv(k, %d) + i) %% 20 AS r, %d + intDiv(k * %d, %d) AS at_s FROM system.numbers LIMIT %d)",
			db, project, "i", o.checks, from, o.checks, o.checks, start.Unix(), span, o.pings, n)
		if err := conn.Exec(ctx, insert); err != nil {
			return fmt.Errorf("generating pings: %w", err)
		}
		fmt.Fprintf(os.Stderr, "hcgen: %d of %d pings (%v)\n", from+n, o.pings, time.Since(began).Round(time.Second))
	}
	// A day at a time keeps the GROUP BY within ClickHouse's memory limit; project_hours
	// as twelve partitions' projectors would have written it.
	for day := start.Truncate(24 * time.Hour); day.Before(end); day = day.Add(24 * time.Hour) {
		if err := history.CheckHoursFromPings(ctx, conn, db, day, day.Add(24*time.Hour)); err != nil {
			return err
		}
		if err := history.ProjectHoursFromCheckHours(ctx, conn, db, day, day.Add(24*time.Hour), 12, 1); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "hcgen: rolled up (%v)\n", time.Since(began).Round(time.Second))
	// Each check goes down at a different minute of every day for ten minutes.
	flips := fmt.Sprintf("INSERT INTO %s.flips (project_id, check_id, flip_seq, ts, at_us, old_status, new_status, reason) "+
		"SELECT toUUID('%s'), "+checkIDSQL+", seq, toDateTime(intDiv(at_us, 1000000)), at_us, if(seq %% 2 = 1, 'up', 'down'), if(seq %% 2 = 1, 'down', 'up'), if(seq %% 2 = 1, 'timeout', '') "+
		"FROM (SELECT number %% %d AS i, intDiv(number, %d) + 1 AS seq, (%d + intDiv(seq - 1, 2) * 86400 + (i %% 1440) * 60 + if(seq %% 2 = 0, 600, 0)) * 1000000 AS at_us "+
		"FROM system.numbers LIMIT %d)", db, project, "i", o.checks, o.checks, start.Unix(), o.checks*o.days*2)
	if err := conn.Exec(ctx, flips); err != nil {
		return fmt.Errorf("generating flips: %w", err)
	}
	fmt.Fprintf(os.Stderr, "hcgen: %d flips; merging (%v)\n", o.checks*o.days*2, time.Since(began).Round(time.Second))
	for _, table := range []string{"check_hours", "flips"} {
		if err := conn.Exec(ctx, "OPTIMIZE TABLE "+db+"."+table+" FINAL"); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "hcgen: generated in %v\n", time.Since(began).Round(time.Second))
	return nil
}
