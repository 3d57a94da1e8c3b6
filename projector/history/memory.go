package history

import (
	"context"
	"slices"
	"sync"
)

// Memory is the in-memory Writer for unit tests. It keeps what the ClickHouse adapter's
// readers would see after deduplication: one ping per (check, time, event ID), one flip
// per (check, flip seq), and the highest version of each check and project.
type Memory struct {
	mu        sync.Mutex
	pings     map[memPingKey]Ping
	flips     map[memFlipKey]Flip
	projects  map[[16]byte]Project
	checks    map[[16]byte]CheckRow
	incidents map[memIncidentKey]Incident
	hours     map[memHourKey]Hour
	projHours map[memProjectHourKey]ProjectHour
	writes    int
}

type memProjectHourKey struct {
	project   [16]byte
	hour      int64
	partition int
}

type memHourKey struct {
	check [16]byte
	hour  int64
}

type memIncidentKey struct {
	partition int
	from      int64
}

type memPingKey struct {
	check, event [16]byte
	at           int64
}

type memFlipKey struct {
	check [16]byte
	seq   uint64
}

// NewMemory returns an empty Memory writer.
func NewMemory() *Memory {
	return &Memory{
		pings: map[memPingKey]Ping{}, flips: map[memFlipKey]Flip{},
		projects: map[[16]byte]Project{}, checks: map[[16]byte]CheckRow{}, incidents: map[memIncidentKey]Incident{},
		hours: map[memHourKey]Hour{}, projHours: map[memProjectHourKey]ProjectHour{},
	}
}

// Write stores the batches.
func (m *Memory) Write(ctx context.Context, batches ...Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	for i := range batches {
		m.store(&batches[i])
	}
	return nil
}

func (m *Memory) store(b *Batch) {
	for _, p := range b.Pings {
		m.pings[memPingKey{p.CheckID, p.EventID, p.At.UnixMicro()}] = p
	}
	for _, f := range b.Flips {
		m.flips[memFlipKey{f.CheckID, f.Flipped.Change.FlipSeq}] = f
	}
	for _, p := range b.Projects {
		if old, ok := m.projects[p.ProjectID]; !ok || p.Version >= old.Version {
			m.projects[p.ProjectID] = p
		}
	}
	for _, in := range b.Incidents {
		m.incidents[memIncidentKey{in.Partition, in.From.UnixMicro()}] = in
	}
	for _, c := range b.Checks {
		if old, ok := m.checks[c.State.CheckID]; !ok || c.Version >= old.Version {
			m.checks[c.State.CheckID] = c
		}
	}
	for _, h := range b.ProjectHours {
		key := memProjectHourKey{h.ProjectID, h.Tally.Hour.Unix(), h.Partition}
		if old, ok := m.projHours[key]; !ok || h.Version >= old.Version {
			m.projHours[key] = h
		}
	}
	for h := range b.HourRows {
		key := memHourKey{h.CheckID, h.Tally.Hour.Unix()}
		if old, ok := m.hours[key]; !ok || h.Tally.Pings >= old.Tally.Pings {
			m.hours[key] = *h
		}
	}
}

// ProjectHours returns a project's hourly counts of every partition, oldest first.
func (m *Memory) ProjectHours(project [16]byte) []ProjectHour {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ProjectHour
	for key, h := range m.projHours {
		if key.project == project {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b ProjectHour) int {
		if c := a.Tally.Hour.Compare(b.Tally.Hour); c != 0 {
			return c
		}
		return a.Partition - b.Partition
	})
	return out
}

// Hours returns the count of every hour of a check, oldest first.
func (m *Memory) Hours(id [16]byte) []Hour {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Hour
	for key, h := range m.hours {
		if key.check == id {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b Hour) int { return a.Tally.Hour.Compare(b.Tally.Hour) })
	return out
}

// Counts returns the deduplicated number of pings, flips, projects and checks.
func (m *Memory) Counts() (pings, flips, projects, checks int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pings), len(m.flips), len(m.projects), len(m.checks)
}

// Incidents returns the recorded outages.
func (m *Memory) Incidents() []Incident {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Incident
	for _, in := range m.incidents {
		out = append(out, in)
	}
	return out
}

// Check returns the latest row of a check.
func (m *Memory) Check(id [16]byte) (CheckRow, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.checks[id]
	return c, ok
}
