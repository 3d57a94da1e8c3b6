package projector

import (
	"encoding/binary"
	"iter"
	"math"

	"github.com/hcstream/hcstream/schemas"
)

// checkTable holds a partition's packed rows and their deadlines, keyed by the check ID
// each packed row begins with. It is an open-addressing table rather than a Go map: with
// the ID stored once, inside the row, a check costs a 24-byte slot instead of a map
// entry with its own key, which at a million checks is about 60 MB less. Checks are
// never removed (a deleted check keeps its row), so probing needs no tombstones.
type checkTable struct {
	slots []tableSlot
	used  int
	// deadlines counts slots with hasDue, for deadline.Current.
	deadlines int
	// byProject lists each project's slots, so that a project's checks are read without
	// visiting every slot: at a million checks a full scan costs tens of milliseconds per
	// list. Slot numbers (4 bytes) rather than IDs (16) keep the index small; grow
	// renumbers them.
	byProject map[schemas.ID][]uint32
}

type tableSlot struct {
	row packedRow
	// due is the check's deadline in UnixNano, or noDeadline.
	due int64
}

// noDeadline marks a check without a deadline; it is in 1677, which no deadline is.
const noDeadline = math.MinInt64

func newCheckTable(capacity int) *checkTable {
	n := 16
	for n*3 < capacity*4 {
		n *= 2
	}
	return &checkTable{slots: make([]tableSlot, n), byProject: map[schemas.ID][]uint32{}}
}

// find returns the slot of id, or of the empty slot where it would go.
func (t *checkTable) find(id schemas.ID) int {
	mask := len(t.slots) - 1
	// IDs are random (v4) or hashes (v5), so their bytes are already well spread.
	i := int(binary.LittleEndian.Uint64(id[:8])*0x9E3779B97F4A7C15>>32) & mask
	for {
		row := t.slots[i].row
		if row == "" || row.hasCheckID(&id) {
			return i
		}
		i = (i + 1) & mask
	}
}

func (t *checkTable) get(id schemas.ID) (packedRow, bool) {
	row := t.slots[t.find(id)].row
	return row, row != ""
}

// put stores row, keeping the check's deadline.
func (t *checkTable) put(row packedRow) {
	i := t.find(row.checkID())
	if t.slots[i].row == "" {
		if (t.used+1)*4 > len(t.slots)*3 {
			t.grow()
			i = t.find(row.checkID())
		}
		t.used++
		t.slots[i].due = noDeadline
		// A check's project is set once, by its first CheckCreated (check.Apply keeps it
		// through any later create), and only existing checks are stored: the index
		// needs no update when a stored row changes.
		t.index(row.projectID(), i)
	}
	t.slots[i].row = row
}

func (t *checkTable) index(project schemas.ID, slot int) {
	t.byProject[project] = append(t.byProject[project], uint32(slot))
}

func (t *checkTable) projectLen(project schemas.ID) int { return len(t.byProject[project]) }

// projectRows yields the stored rows of one project's checks, in no particular order.
func (t *checkTable) projectRows(project schemas.ID) iter.Seq[packedRow] {
	return func(yield func(packedRow) bool) {
		for _, slot := range t.byProject[project] {
			if !yield(t.slots[slot].row) {
				return
			}
		}
	}
}

func (t *checkTable) grow() {
	old := t.slots
	t.slots = make([]tableSlot, 2*len(old))
	counts := make(map[schemas.ID]int, len(t.byProject))
	for project, slots := range t.byProject {
		counts[project] = len(slots)
	}
	clear(t.byProject)
	for _, s := range old {
		if s.row != "" {
			i := t.find(s.row.checkID())
			t.slots[i] = s
			project := s.row.projectID()
			if t.byProject[project] == nil {
				t.byProject[project] = make([]uint32, 0, counts[project]+1)
			}
			t.index(project, i)
		}
	}
}

func (t *checkTable) len() int { return t.used }

// rows yields every stored row.
func (t *checkTable) rows(yield func(packedRow) bool) {
	for _, s := range t.slots {
		if s.row != "" && !yield(s.row) {
			return
		}
	}
}

// Deadline implements deadline.Current.
func (t *checkTable) Deadline(id schemas.ID) (int64, bool) {
	s := &t.slots[t.find(id)]
	return s.due, s.row != "" && s.due != noDeadline
}

// SetDeadline implements deadline.Current. Only stored checks have deadlines.
func (t *checkTable) SetDeadline(id schemas.ID, at int64, ok bool) {
	s := &t.slots[t.find(id)]
	if s.row == "" {
		return
	}
	had := s.due != noDeadline
	switch {
	case ok && !had:
		t.deadlines++
	case !ok && had:
		t.deadlines--
	}
	if !ok {
		at = noDeadline
	}
	s.due = at
}

// Deadlines implements deadline.Current.
func (t *checkTable) Deadlines(yield func(schemas.ID, int64) bool) {
	for _, s := range t.slots {
		if s.row != "" && s.due != noDeadline && !yield(s.row.checkID(), s.due) {
			return
		}
	}
}

// DeadlineCount implements deadline.Current.
func (t *checkTable) DeadlineCount() int { return t.deadlines }
