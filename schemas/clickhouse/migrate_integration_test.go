//go:build integration

package clickhouse_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/query/store"
	chschema "github.com/hcstream/hcstream/schemas/clickhouse"
)

// Every migration runs on the stack's ClickHouse (18.16 in CI), is idempotent, and yields
// exactly the pinned columns.
func TestMigrationsOnRealServer(t *testing.T) {
	t.Parallel()
	conn, database := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("ClickHouse %s", version)

	again, err := chschema.Migrate(ctx, conn, database)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if len(again) != 0 {
		t.Errorf("second run applied %v, want nothing", again)
	}
	// A migration interrupted after its statements but before it was recorded runs
	// again without failing, ADD COLUMN included.
	if err := conn.Exec(ctx, "ALTER TABLE "+database+".schema_migrations DELETE WHERE version = 2"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the mutation did not finish", func() bool {
		var n uint64
		_ = conn.QueryRow(ctx, "SELECT count() FROM "+database+".schema_migrations WHERE version = 2").Scan(&n)
		return n == 0
	})
	if again, err := chschema.Migrate(ctx, conn, database); err != nil || len(again) != 1 || again[0] != 2 {
		t.Errorf("re-running migration 2: applied %v, err %v", again, err)
	}

	want := map[string]string{
		"projects": "project_id UUID, name String, api_key_hash String, api_key_readonly_hash String, ping_key String, created_us Int64, version UInt64",
		"pings": "project_id UUID, check_id UUID, event_id UUID, n UInt64, ts DateTime, received_us Int64, " +
			"kind Enum8('success' = 0, 'start' = 1, 'fail' = 2, 'log' = 3, 'ign' = 4), exit_status Int16, rid String, duration_us Int64, " +
			"scheme String, remote_addr String, method String, ua String, body String",
		"flips": "project_id UUID, check_id UUID, flip_seq UInt64, ts DateTime, at_us Int64, " +
			"old_status Enum8('new' = 0, 'up' = 1, 'down' = 2, 'paused' = 3), new_status Enum8('new' = 0, 'up' = 1, 'down' = 2, 'paused' = 3), reason String",
		"check_hours": "project_id UUID, check_id UUID, hour DateTime, pings UInt32, successes UInt32, failures UInt32, starts UInt32, " +
			"logs UInt32, ignored UInt32, runs UInt32, run_us_sum Int64, run_us_max Int64",
		"project_hours": "project_id UUID, hour DateTime, partition UInt32, version UInt64, pings UInt32, successes UInt32, failures UInt32, " +
			"starts UInt32, logs UInt32, ignored UInt32, runs UInt32, run_us_sum Int64, run_us_max Int64",
		"site_secrets": "name String, secret String, created DateTime",
	}
	for table, columns := range want {
		rows, err := conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", database, table)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var name, typ string
			if err := rows.Scan(&name, &typ); err != nil {
				t.Fatal(err)
			}
			got = append(got, name+" "+typ)
		}
		rows.Close()
		if diff := cmp.Diff(columns, strings.Join(got, ", ")); diff != "" {
			t.Errorf("%s columns (-want +got):\n%s", table, diff)
		}
	}
}

// The first migration generates the badge secret; later ones keep it, and a database
// migrated with another as the source of its secrets (a replay) takes that one.
func TestSiteSecrets(t *testing.T) {
	t.Parallel()
	conn, database := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	secrets := func(db string) []string {
		t.Helper()
		rows, err := conn.Query(ctx, "SELECT secret FROM "+db+".site_secrets WHERE name = ?", chschema.BadgeSecret)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	first := secrets(database)
	if len(first) != 1 || len(first[0]) != 64 {
		t.Fatalf("after the first migration: %q, want one secret of 64 hex digits", first)
	}
	if _, err := chschema.Migrate(ctx, conn, database); err != nil {
		t.Fatal(err)
	}
	if again := secrets(database); len(again) != 1 || again[0] != first[0] {
		t.Errorf("after migrating again: %q, want %q", again, first)
	}
	rebuilt, fresh := database+"_rebuilt", database+"_fresh"
	for _, db := range []string{rebuilt, fresh} {
		t.Cleanup(func() { testenv.DropDatabase(t, conn, db) })
	}
	if _, err := chschema.Migrate(ctx, conn, rebuilt, database); err != nil {
		t.Fatal(err)
	}
	if got := secrets(rebuilt); len(got) != 1 || got[0] != first[0] {
		t.Errorf("database rebuilt from %s: %q, want its secret %q", database, got, first)
	}
	if _, err := chschema.Migrate(ctx, conn, fresh, database+"_absent"); err != nil {
		t.Fatal(err)
	}
	if got := secrets(fresh); len(got) != 1 || got[0] == first[0] {
		t.Errorf("database with no source of secrets: %q, want a new one", got)
	}
	// A database that already made its own secret cannot become a rebuild of another.
	if _, err := chschema.Migrate(ctx, conn, fresh, database); err == nil || !strings.Contains(err.Error(), "already has its own site secret") {
		t.Errorf("rebuilding into a database with another secret: %v, want a refusal", err)
	}
	if _, err := chschema.Migrate(ctx, conn, rebuilt, database); err != nil {
		t.Errorf("migrating the rebuilt database again from its source: %v", err)
	}
}

// Replicas starting together migrate one fresh database at once: every one of them
// succeeds, and the database ends with each migration's statements applied.
func TestConcurrentMigrations(t *testing.T) {
	t.Parallel()
	conn := testenv.ClickHouseConn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for round := range 3 {
		database := testenv.UniqueName(t) + "_" + strconv.Itoa(round)
		t.Cleanup(func() { testenv.DropDatabase(t, conn, database) })
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for range cap(errs) {
			wg.Go(func() {
				_, err := chschema.Migrate(ctx, conn, database)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: a migration run beside others failed: %v", round, err)
			}
		}
		if again, err := chschema.Migrate(ctx, conn, database); err != nil || len(again) != 0 {
			t.Fatalf("round %d: a run after the concurrent ones applied %v, err %v; want nothing left", round, again, err)
		}
		// However many secrets the racing runs stored, every reader takes the same one.
		var readers sync.WaitGroup
		read := make(chan string, 4)
		for range cap(read) {
			readers.Go(func() {
				secret, err := store.NewClickHouse(conn, database).Secret(ctx, chschema.BadgeSecret)
				if err != nil {
					t.Errorf("round %d: reading the badge secret: %v", round, err)
				}
				read <- secret
			})
		}
		readers.Wait()
		close(read)
		var smallest string
		if err := conn.QueryRow(ctx, "SELECT min(secret) FROM "+database+".site_secrets").Scan(&smallest); err != nil {
			t.Fatal(err)
		}
		for secret := range read {
			if secret != smallest {
				t.Errorf("round %d: a reader took %q, want the smallest stored, %q", round, secret, smallest)
			}
		}
	}
}

// A secret stored moments ago (a first migration racing another) is not used until it
// has settled, and then the smallest wins: a reader between two racing stores must not
// take one the other processes will never use.
func TestSiteSecretsSettleBeforeUse(t *testing.T) {
	t.Parallel()
	conn, database := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	secrets := store.NewClickHouse(conn, database)
	first, err := secrets.Secret(ctx, chschema.BadgeSecret)
	if err != nil {
		t.Fatal(err)
	}
	racing := strings.Repeat("0", 64) // smaller than any generated one
	if err := conn.Exec(ctx, "INSERT INTO "+database+".site_secrets (name, secret, created) SELECT ?, ?, now()", chschema.BadgeSecret, racing); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	if got, err := secrets.Secret(short, chschema.BadgeSecret); err == nil {
		t.Fatalf("right after a racing store: %q, want no secret before it settles", got)
	}
	start := time.Now()
	got, err := secrets.Secret(ctx, chschema.BadgeSecret)
	if err != nil || got != racing || got == first {
		t.Fatalf("once settled: %q, %v; want the smaller, racing secret", got, err)
	}
	t.Logf("settled after %v", time.Since(start))
}
