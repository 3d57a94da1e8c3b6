package clickhouse

import (
	"math"
	"time"
)

// DateTime returns the seconds to bind where a statement compares a DateTime column
// with toDateTime(?): t's Unix time, held within what a DateTime can be, from
// 1970-01-01 to 2106-02-07. Outside that range the two servers we support disagree:
// 18.16 wraps the value modulo 2^32 (Go's zero time becomes 2042), current releases
// saturate it, so a bound like "since the zero time" selected no rows on one and
// every row on the other.
func DateTime(t time.Time) int64 {
	return min(max(t.Unix(), 0), math.MaxUint32)
}
