//go:build integration

package history

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/schemas"
)

func TestClickHouseWriterContract(t *testing.T) {
	t.Parallel()
	conn, database := testenv.ClickHouse(t)
	w := NewClickHouse(conn, database)
	count := func(t *testing.T, table string) int {
		var n uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+database+"."+table+" FINAL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	runWriterContract(t, w, readBack{
		incidents: func(t *testing.T) int { return count(t, "incidents") },
		counts: func(t *testing.T) (int, int, int, int) {
			return count(t, "pings"), count(t, "flips"), count(t, "projects"), count(t, "checks")
		},
		check: func(t *testing.T, id schemas.ID) (CheckRow, bool) {
			rows, err := conn.Query(context.Background(), "SELECT "+CheckColumns+" FROM "+database+".checks FINAL WHERE check_id = ?", uuid.UUID(id))
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			if !rows.Next() {
				return CheckRow{}, false
			}
			row, err := ScanCheck(rows)
			if err != nil {
				t.Fatal(err)
			}
			return row, true
		},
	})
	loaded, err := w.LoadPartition(context.Background(), 3)
	if err != nil || len(loaded) != 1 || loaded[0].Version != 7 {
		t.Errorf("LoadPartition(3) = %+v, %v; want the version-7 row", loaded, err)
	}
}
