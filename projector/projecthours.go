package projector

import (
	"time"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
)

// projectHours folds a partition's pings into per-project hourly counts. A ping counts
// in the hour its check's tally put it in, so the project's count of an hour is the sum
// of its checks' counts. Two hours stay open, the latest and the one before, because
// ingest instances stamp pings a moment apart and one stamped before the turn of the
// hour may follow one stamped after it; a ping for an older hour (clocks more than an
// hour apart) counts in the older open one.
type projectHours struct {
	partition int
	latest    time.Time
	open      map[projectHourKey]*history.ProjectHour
	changed   map[projectHourKey]bool
	// prunedBefore is the hour before which open has been emptied: pruning walks open
	// only when the window has moved, not with every batch.
	prunedBefore int64
}

type projectHourKey struct {
	project schemas.ID
	hour    int64
}

func newProjectHours(partition int) *projectHours {
	return &projectHours{partition: partition, open: map[projectHourKey]*history.ProjectHour{}, changed: map[projectHourKey]bool{}}
}

// count adds a ping of the event at version, unless the restored count already holds it.
func (p *projectHours) count(project schemas.ID, hour time.Time, rec check.PingRecorded, version uint64) {
	if hour.After(p.latest) {
		p.latest = hour
	}
	if oldest := p.latest.Add(-time.Hour); hour.Before(oldest) {
		hour = oldest
	}
	key := projectHourKey{project, hour.Unix()}
	h := p.open[key]
	if h == nil {
		h = &history.ProjectHour{ProjectID: project, Partition: p.partition, Tally: check.HourTally{Hour: hour}}
		p.open[key] = h
	}
	if version <= h.Version {
		return
	}
	h.Tally.Add(rec)
	h.Version = version
	p.changed[key] = true
}

// closeBatch returns the counts changed since the last call and forgets the hours that
// can no longer change.
func (p *projectHours) closeBatch() []history.ProjectHour {
	out := make([]history.ProjectHour, 0, len(p.changed))
	for key := range p.changed {
		out = append(out, *p.open[key])
		delete(p.changed, key)
	}
	if oldest := p.latest.Add(-time.Hour).Unix(); oldest > p.prunedBefore {
		for key := range p.open {
			if key.hour < oldest {
				delete(p.open, key)
			}
		}
		p.prunedBefore = oldest
	}
	return out
}

// load restores the counts of the open hours; latest is the latest hour any of the
// partition's checks counted a ping in.
func (p *projectHours) load(latest time.Time, hours []history.ProjectHour) {
	p.latest = latest
	for _, h := range hours {
		p.open[projectHourKey{h.ProjectID, h.Tally.Hour.Unix()}] = &h
	}
}
