package history

import (
	"context"
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
	writes    int
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
	}
}

// Write stores the batch.
func (m *Memory) Write(ctx context.Context, b Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
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
	return nil
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
