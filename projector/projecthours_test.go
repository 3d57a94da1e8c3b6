package projector

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
)

// projectPing is one ping as projectHours sees it: the hour its check counted it in.
type projectPing struct {
	project schemas.ID
	hour    time.Time
	rec     check.PingRecorded
	version uint64
}

func syntheticPings(n int) []projectPing {
	r := rand.New(rand.NewPCG(1, 2))
	projects := []schemas.ID{{1}, {2}, {3}}
	start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	var out []projectPing
	for i := range n {
		hour := start.Add(time.Duration(i*5/n) * time.Hour)
		if r.IntN(20) == 0 {
			hour = hour.Add(-time.Hour) // stamped before the turn of the hour, arriving after
		}
		rec := check.PingRecorded{Kind: check.Kind(r.IntN(5))}
		if r.IntN(4) == 0 {
			rec.Duration, rec.HasDuration = time.Duration(r.IntN(1000))*time.Millisecond, true
		}
		out = append(out, projectPing{projects[r.IntN(len(projects))], hour, rec, uint64(i + 1)})
	}
	return out
}

// Counting with restarts in between, where a restarted partition restores the stored
// counts and is sent again events it had already counted, writes the same rows as
// counting in one go.
func TestProjectHoursSurviveRestarts(t *testing.T) {
	pings := syntheticPings(2000)
	fold := func(restartEvery int) []history.ProjectHour {
		store := history.NewMemory()
		ph := newProjectHours(7)
		var latest time.Time
		write := func() {
			if err := store.Write(context.Background(), history.Batch{ProjectHours: ph.closeBatch()}); err != nil {
				t.Fatal(err)
			}
		}
		sinceRestart := 0
		for i := 0; i < len(pings); i++ {
			p := pings[i]
			ph.count(p.project, p.hour, p.rec, p.version)
			if p.hour.After(latest) {
				latest = p.hour
			}
			if sinceRestart++; restartEvery > 0 && sinceRestart == restartEvery {
				sinceRestart = 0
				write()
				// Restart: restore what is stored, then get the last 50 events again.
				ph = newProjectHours(7)
				var stored []history.ProjectHour
				for _, project := range []schemas.ID{{1}, {2}, {3}} {
					for _, h := range store.ProjectHours(project) {
						if !h.Tally.Hour.Before(latest.Add(-time.Hour)) {
							stored = append(stored, h)
						}
					}
				}
				ph.load(latest, stored)
				i = max(-1, i-50)
			}
		}
		write()
		var out []history.ProjectHour
		for _, project := range []schemas.ID{{1}, {2}, {3}} {
			out = append(out, store.ProjectHours(project)...)
		}
		return out
	}
	once := fold(0)
	var total uint32
	for _, h := range once {
		total += h.Tally.Pings
	}
	if total != uint32(len(pings)) {
		t.Fatalf("counted %d pings of %d", total, len(pings))
	}
	for _, every := range []int{97, 333, 1000} {
		if diff := cmp.Diff(once, fold(every)); diff != "" {
			t.Errorf("restarting every %d events changed the counts (-once +restarted):\n%s", every, diff)
		}
	}
}
