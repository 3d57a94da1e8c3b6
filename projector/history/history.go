// Package history makes the projector's output durable: ping rows, flips, project rows
// and the current state of every check, written in batches that are idempotent when a
// batch is sent again after a crash or a redelivery.
//
// The Writer port has a ClickHouse adapter and an in-memory fake that pass one contract
// test; nothing here decides check semantics (that is projector/check).
package history

import (
	"bytes"
	"cmp"
	"context"
	"iter"
	"math"
	"time"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/schemas"
)

// Writer makes batches durable. Write returns only when every row of every batch is
// stored, and writing the same batches again leaves the same visible rows. Several
// batches go in one write without being merged first: copying their rows into one batch
// cost a tenth of a replay's CPU time.
type Writer interface {
	Write(ctx context.Context, batches ...Batch) error
}

// Batch is everything one projector step produced.
type Batch struct {
	Pings     []Ping
	Flips     []Flip
	Projects  []Project
	Checks    []CheckRow
	Incidents []Incident
	// Hours are the check hours that ended in this step; the hours still open are
	// the tallies of Checks (see HourRows).
	Hours []Hour
	// ProjectHours are the partition's per-project hourly counts this step changed.
	ProjectHours []ProjectHour
}

// ProjectHour is one partition's count of one project's pings in one hour; summed over
// the partitions it is the project's count, without reading a row per check. Version
// is the offset after the last event it counts, so a count restored after a restart
// knows which redelivered events it already holds.
type ProjectHour struct {
	ProjectID schemas.ID
	Partition int
	Version   uint64
	Tally     check.HourTally
}

// Hour is one check's final count of one hour of pings.
type Hour struct {
	ProjectID schemas.ID
	CheckID   schemas.ID
	Tally     check.HourTally
}

// HourRows yields the check_hours rows of the batch: the hours that ended, then the
// open hour of every check row that has one. An open hour is written again with each
// batch that touches its check; the row with the most pings is the hour's count.
// A yielded row is valid until the next one.
func (b *Batch) HourRows(yield func(*Hour) bool) {
	for i := range b.Hours {
		if !yield(&b.Hours[i]) {
			return
		}
	}
	var open Hour
	for i := range b.Checks {
		if s := &b.Checks[i].State; s.Tally.Pings > 0 {
			open = Hour{ProjectID: s.ProjectID, CheckID: s.CheckID, Tally: s.Tally}
			if !yield(&open) {
				return
			}
		}
	}
}

// RowCount is how many rows the batches hold, as rowsOf counts them in one batch
// ((*Batch).Len for every row, or one table's).
func RowCount(batches []Batch, rowsOf func(*Batch) int) int {
	n := 0
	for i := range batches {
		n += rowsOf(&batches[i])
	}
	return n
}

// Len is the number of rows in the batch.
func (b *Batch) Len() int {
	return len(b.Pings) + len(b.Flips) + len(b.Projects) + len(b.Checks) + len(b.Incidents) + len(b.Hours) + len(b.ProjectHours)
}

// Incident is an ingest outage a partition's stream time jumped over: no event arrived
// between From and To, so deadlines were postponed rather than fired.
type Incident struct {
	Partition  int
	From, To   time.Time
	ChecksHeld int
}

// Ping is one recorded ping.
type Ping struct {
	ProjectID schemas.ID
	CheckID   schemas.ID
	EventID   schemas.ID
	At        time.Time
	Ping      schemas.PingReceived
	Recorded  check.PingRecorded
}

// Flip is one status change.
type Flip struct {
	ProjectID schemas.ID
	CheckID   schemas.ID
	Flipped   check.Flipped
}

// Project is a project as created.
type Project struct {
	ProjectID schemas.ID
	Created   time.Time
	Version   uint64
	Body      schemas.ProjectCreated
}

// CheckRow is a check's state after the event at Version (a Kafka offset) in Partition.
type CheckRow struct {
	Partition int
	Version   uint64
	State     check.State
}

// LazyRow is a check's row that is read only when asked for. Its head is at hand, and
// a list that reuses most checks' renderings from one read to the next need not read
// the rest.
type LazyRow interface {
	Head() RowHead
	// Row reads the whole row, valid until the iteration that yielded it moves on.
	Row() *CheckRow
}

// RowHead is the start of a check's row: which check, and its state's place in the log.
// The fold is deterministic, so two rows with the same head hold the same state.
type RowHead struct {
	CheckID         schemas.ID
	Partition       int
	Version         uint64
	Exists, Deleted bool
	// Created is when the check was created, as CreationKey gives it.
	Created int64
}

// HeadOf is the head of row.
func HeadOf(row *CheckRow) RowHead {
	return RowHead{CheckID: row.State.CheckID, Partition: row.Partition, Version: row.Version, Exists: row.State.Exists, Deleted: row.State.Deleted,
		Created: CreationKey(row.State.Created)}
}

// CreationKey is a creation time as lists order checks by it: in UnixNano, with the
// zero time first. Comparing time.Time values was a third of a list's sort.
func CreationKey(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

// ListOrder compares two checks as lists order them: by creation, then by ID.
func ListOrder(aCreated int64, aID *schemas.ID, bCreated int64, bID *schemas.ID) int {
	if c := cmp.Compare(aCreated, bCreated); c != 0 {
		return c
	}
	return bytes.Compare(aID[:], bID[:])
}

// JournalPosition is how far a reader has followed one partition's changes: Next
// changes of the journal named by Epoch.
type JournalPosition struct{ Epoch, Next uint64 }

// ChangeCursor is how far a reader has followed each partition's changes, indexed by
// partition.
type ChangeCursor []JournalPosition

// ProjectChanges is what changed among a project's checks after a cursor.
type ProjectChanges struct {
	// Rows yields the latest rows of the checks that changed, deleted ones included, in
	// no particular order, a check once or more; or, when Complete, the row of every
	// check of the project, each once. A yielded row is valid until the next one.
	Rows     iter.Seq[LazyRow]
	Complete bool
	// Next is the cursor to read the following changes from.
	Next ChangeCursor
}

// Loaded is a row already read, as a LazyRow.
func Loaded(row *CheckRow) LazyRow { return (*loadedRow)(row) }

type loadedRow CheckRow

func (r *loadedRow) Head() RowHead  { return HeadOf((*CheckRow)(r)) }
func (r *loadedRow) Row() *CheckRow { return (*CheckRow)(r) }
