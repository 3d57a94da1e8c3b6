package projector

import (
	"sync/atomic"

	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
)

// changeJournal remembers which checks a partition's fold changed last, in order, so
// that a reader keeping a project's list up to date catches up by the checks that
// changed instead of reading all of them again. It keeps the latest journalLength
// changes; a reader further behind starts over from every check.
type changeJournal struct {
	// epoch names this journal's history: a partition state folded afresh (after a
	// rebalance or a restart) starts a new one, and positions in another mean nothing.
	epoch uint64
	// next is the number of changes recorded so far.
	next    uint64
	entries []journalEntry
}

type journalEntry struct {
	check, project schemas.ID
}

// journalLength is a power of two. At 32 bytes an entry, a partition's journal takes
// 256 KiB, and at 5,000 pings a second over twelve partitions it reaches back about
// twenty seconds.
const journalLength = 8192

var journalEpochs atomic.Uint64

func newChangeJournal() changeJournal {
	return changeJournal{epoch: journalEpochs.Add(1), entries: make([]journalEntry, journalLength)}
}

func (j *changeJournal) record(check, project schemas.ID) {
	j.entries[j.next%journalLength] = journalEntry{check: check, project: project}
	j.next++
}

// position is where a reader that has seen every change so far stands.
func (j *changeJournal) position() history.JournalPosition {
	return history.JournalPosition{Epoch: j.epoch, Next: j.next}
}

// changedSince yields the checks of project changed from pos on, a check once for each
// change, and reports false when the journal no longer holds them all.
func (j *changeJournal) changedSince(pos history.JournalPosition, project schemas.ID, each func(check schemas.ID)) bool {
	if pos.Epoch != j.epoch || pos.Next > j.next || j.next-pos.Next > journalLength {
		return false
	}
	for seq := pos.Next; seq < j.next; seq++ {
		if e := &j.entries[seq%journalLength]; e.project == project {
			each(e.check)
		}
	}
	return true
}
