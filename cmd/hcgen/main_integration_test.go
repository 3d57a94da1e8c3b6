//go:build integration

package main

import (
	"context"
	"testing"

	"github.com/hcstream/hcstream/deploy/testenv"
)

// TestGenerateFillsTheTablesAsDocumented runs hcgen on a small fleet and checks the
// mix its documentation promises, exactly: k's kind is (k / checks + k mod checks) mod
// 20, so every kind takes the same share of every check's pings.
func TestGenerateFillsTheTablesAsDocumented(t *testing.T) {
	t.Parallel()
	conn, database := testenv.ClickHouse(t)
	o := options{addr: testenv.ClickHouseAddr(t), database: database, pings: 2000, checks: 10, days: 2, repeat: 1}
	if err := run(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var pings, successes, failures, starts, logs, runs uint64
	err := conn.QueryRow(ctx, "SELECT count(), countIf(kind = 'success'), countIf(kind = 'fail'), countIf(kind = 'start'), countIf(kind = 'log'), "+
		"countIf(duration_us >= 0) FROM "+database+".pings").Scan(&pings, &successes, &failures, &starts, &logs, &runs)
	if err != nil {
		t.Fatal(err)
	}
	if pings != 2000 || successes != 1700 || failures != 100 || starts != 100 || logs != 100 || runs != 100 {
		t.Errorf("pings: %d (success %d, fail %d, start %d, log %d, runs %d), want 2000 (1700, 100, 100, 100, 100)",
			pings, successes, failures, starts, logs, runs)
	}
	for _, table := range []string{"check_hours", "project_hours"} {
		var total, ok, failed, started, logged, completed uint64
		err := conn.QueryRow(ctx, "SELECT sum(pings), sum(successes), sum(failures), sum(starts), sum(logs), sum(runs) FROM "+database+"."+table+" FINAL").
			Scan(&total, &ok, &failed, &started, &logged, &completed)
		if err != nil {
			t.Fatal(err)
		}
		if total != pings || ok != successes || failed != failures || started != starts || logged != logs || completed != runs {
			t.Errorf("%s sums: %d (%d, %d, %d, %d, %d), want the pings' %d (%d, %d, %d, %d, %d)", table,
				total, ok, failed, started, logged, completed, pings, successes, failures, starts, logs, runs)
		}
	}
	var checks, partitions uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(check_id), (SELECT uniqExact(partition) FROM "+database+".project_hours) FROM "+database+".check_hours").
		Scan(&checks, &partitions); err != nil {
		t.Fatal(err)
	}
	if checks != 10 || partitions == 0 || partitions > 12 {
		t.Errorf("check_hours has %d checks, want 10; project_hours %d partitions, want 1 to 12", checks, partitions)
	}
	var flips, downs uint64
	if err := conn.QueryRow(ctx, "SELECT count(), countIf(new_status = 'down') FROM "+database+".flips FINAL").Scan(&flips, &downs); err != nil {
		t.Fatal(err)
	}
	if flips != 40 || downs != 20 {
		t.Errorf("flips: %d, %d of them down; want 40, 20 (each check down once a day for two days)", flips, downs)
	}
}
