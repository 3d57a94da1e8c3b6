package projector

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
)

// BenchmarkStateMemory reports the heap a projector holds per check: a million checks,
// each created, pinged with a rid run and indexed by deadline, as after a restart.
// Run: go test -run '^$' -bench StateMemory -benchtime 1x ./projector
func BenchmarkStateMemory(b *testing.B) {
	const checks = 1_000_000
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		st := newPartitionState(0, 0)
		project := schemas.NewID()
		for i := range checks {
			st.load(history.CheckRow{Version: uint64(i), State: sampleCheck(project, i)})
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/checks, "heap-bytes/check")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB/1M-checks")
		runtime.KeepAlive(st)
	}
}

// sampleCheck is the i-th check of a typical fleet: created, then pinged with a rid run.
func sampleCheck(project schemas.ID, i int) check.State {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	id := schemas.NewID()
	cfg := schemas.CheckConfig{Name: "job-" + strconv.Itoa(i), Slug: "job-" + strconv.Itoa(i), Tags: "prod db",
		Timeout: time.Hour, Grace: 5 * time.Minute, Schedule: "* * * * *", TZ: "UTC"}
	s, _ := check.Apply(check.State{}, schemas.Event{ProjectID: project, CheckID: id, At: at, Body: schemas.CheckCreated{Config: cfg}})
	s, _ = check.Apply(s, schemas.Event{CheckID: id, At: at.Add(time.Second), Body: schemas.PingReceived{Kind: schemas.PingStart, HasRunID: true, RunID: id}})
	s, _ = check.Apply(s, schemas.Event{CheckID: id, At: at.Add(time.Minute), Body: schemas.PingReceived{Kind: schemas.PingSuccess}})
	return s
}
