package clickhouse

import (
	"math"
	"testing"
	"time"
)

func TestDateTimeStaysWithinWhatADateTimeHolds(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   time.Time
		want int64
	}{
		{"the zero time", time.Time{}, 0},
		{"an hour before the zero time", time.Time{}.Add(-time.Hour), 0},
		{"just before 1970", time.Unix(-1, 0), 0},
		{"1970", time.Unix(0, 0), 0},
		{"a second in 2026", time.Date(2026, 12, 2, 17, 0, 0, 999, time.UTC), 1796230800},
		{"the last second a DateTime holds", time.Unix(math.MaxUint32, 0), math.MaxUint32},
		{"after 2106", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxUint32},
	} {
		if got := DateTime(tc.at); got != tc.want {
			t.Errorf("%s: DateTime(%v) = %d, want %d", tc.name, tc.at, got, tc.want)
		}
	}
}
