package projector

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
)

func TestPackedRowRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 29, 1, 30, 0, 123456789, time.UTC)
	for name, row := range map[string]history.CheckRow{
		"new check": {Version: 1, State: check.State{ProjectID: schemas.ID{1}, CheckID: schemas.ID{2}, Exists: true, Created: at,
			Config: schemas.CheckConfig{Name: "backup", Timeout: time.Hour, Grace: time.Minute, TZ: "UTC"}}},
		"everything set": {Version: 1 << 40, State: check.State{ProjectID: schemas.ID{1}, CheckID: schemas.ID{2}, Exists: true, Deleted: true,
			Config: schemas.CheckConfig{Name: "nightly ☾", Slug: "nightly", Tags: "prod db", Desc: "line\nbreak", Kind: schemas.KindCron,
				Timeout: 86400 * time.Second, Grace: -time.Nanosecond, Schedule: "0 3 * * *", TZ: "Europe/Riga", ManualResume: true,
				Methods: "POST", StartKeywords: "go", SuccessKeywords: "ok,done", FailureKeywords: "error", FilterSubject: true,
				FilterBody: true, FilterHTTPBody: true, FilterDefaultFail: true, Channels: []string{"a", "", "c"},
				FailureThreshold: schemas.MaxThreshold, RecoveryThreshold: 3},
			Created: time.Unix(0, 0).UTC(), Status: schemas.StatusDown, LastPing: at, LastStart: at.Add(-time.Hour),
			LastStartRunID: schemas.ID{9}, LastStartHasRunID: true, LastDuration: 90 * time.Minute, NPings: 1<<63 + 5, FlipSeq: 42,
			OpenRuns: []check.Run{{RunID: schemas.ID{9}, HasRunID: true, Started: at.Add(-time.Hour)}, {Started: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}},
			Held:     10 * time.Minute, Streak: 999,
			Tally: check.HourTally{Hour: at.Truncate(time.Hour), Pings: 1 << 31, Successes: 5, Failures: 6, Starts: 7, Logs: 8,
				Ignored: 9, Runs: 3, RunTotal: 1 << 40, RunLongest: time.Hour}}},
		"tally of successes only": {State: check.State{Exists: true, Tally: check.HourTally{Hour: at.Truncate(time.Hour), Pings: 2, Successes: 2}}},
		"zero row":                {},
	} {
		t.Run(name, func(t *testing.T) {
			got := packRow(row).unpack()
			if diff := cmp.Diff(row, got); diff != "" {
				t.Errorf("(-packed +unpacked):\n%s", diff)
			}
		})
	}
}

func FuzzPackedRowDecode(f *testing.F) {
	f.Add(string(packRow(history.CheckRow{Version: 7, State: check.State{Exists: true, Config: schemas.CheckConfig{Name: "x", Channels: []string{"c"}},
		OpenRuns: []check.Run{{HasRunID: true}}}})))
	f.Fuzz(func(t *testing.T, s string) {
		row, err := packedRow(s).decode()
		if err != nil {
			return
		}
		// Whatever decodes must pack back to a row that decodes the same.
		again := packRow(row).unpack()
		if diff := cmp.Diff(row, again); diff != "" {
			t.Errorf("(-decoded +repacked):\n%s", diff)
		}
	})
}

func BenchmarkPackedRow(b *testing.B) {
	row := history.CheckRow{Version: 123456, State: check.State{ProjectID: schemas.NewID(), CheckID: schemas.NewID(), Exists: true,
		Config:  schemas.CheckConfig{Name: "job-123456", Slug: "job-123456", Tags: "prod db", Timeout: time.Hour, Grace: 5 * time.Minute},
		Created: time.Now(), LastPing: time.Now(), Status: schemas.StatusUp, NPings: 1000}}
	b.Run("pack", func(b *testing.B) {
		for b.Loop() {
			_ = packRow(row)
		}
	})
	packed := packRow(row)
	b.Run("unpack", func(b *testing.B) {
		for b.Loop() {
			_ = packed.unpack()
		}
	})
}
