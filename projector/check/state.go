package check

import (
	"time"

	"github.com/hcstream/hcstream/schemas"
)

// maxOpenRuns bounds how many concurrent runs (distinct rids) a check remembers for
// pairing start and finish pings into durations.
const maxOpenRuns = 8

// maxRunDuration is Healthchecks' MAX_DURATION: a start older than this is not paired.
const maxRunDuration = 72 * time.Hour

// State is everything the projector knows about one check. The zero value is a check
// that does not exist yet.
type State struct {
	ProjectID schemas.ID
	CheckID   schemas.ID
	Exists    bool
	Deleted   bool
	Config    schemas.CheckConfig
	Created   time.Time

	// Status is the stored status: new, up, down or paused.
	Status schemas.Status
	// LastPing is the time of the last success or fail; zero when none.
	LastPing time.Time
	// LastStart is the start of the run in progress; zero when none.
	LastStart         time.Time
	LastStartRunID    schemas.ID
	LastStartHasRunID bool
	// LastDuration is the duration of the last completed run; zero when unknown.
	LastDuration time.Duration
	// NPings counts every recorded ping, ignored and log pings included.
	NPings uint64
	// FlipSeq numbers this check's flips; the same log gives the same numbers.
	FlipSeq uint64
	// Streak counts the consecutive successes (while down) or failures (otherwise) that
	// have not flipped the check yet because its recovery or failure threshold is higher.
	Streak uint16
	// OpenRuns are the most recent starts per rid, for the durations of ping rows.
	OpenRuns []Run
	// Tally counts the pings of the check's latest hour, for the check_hours rollup.
	Tally HourTally
	// Held postpones the current deadline by the length of the ingest outages it lived
	// through: a job cannot be blamed for pings hcstream could not take. The next success
	// or fail sets a new deadline and clears it; a start keeps what the deadline by
	// schedule still needs (heldAfterStart).
	Held time.Duration
}

// HourTally counts one hour of a check's pings by kind, and the runs completed in it.
// It is folded with the check, so a replay or a restarted projector arrives at the
// same counts, and the row written last for an hour (the one with most pings) is the
// hour's total.
type HourTally struct {
	// Hour is the start of the hour, UTC; zero before the check's first ping.
	Hour                                                    time.Time
	Pings, Successes, Failures, Starts, Logs, Ignored, Runs uint32
	// RunTotal and RunLongest are the summed and the longest duration of the Runs.
	RunTotal, RunLongest time.Duration
}

// count adds a recorded ping at at and, when the ping starts a later hour, returns the
// final count of the hour before. A ping stamped before the tally's hour (ingest
// instances whose clocks disagree by a moment at the turn of an hour) counts in the
// tally's hour, so an hour's row never changes after the check has moved on.
func (t *HourTally) count(at time.Time, rec PingRecorded) (closed HourTally, hourClosed bool) {
	// An integer floor of the Unix seconds: this runs for every ping, and time.Truncate
	// goes through a general duration division.
	sec := at.Unix()
	hour := sec - (sec%3600+3600)%3600
	if t.Hour.IsZero() || hour > t.Hour.Unix() {
		closed, hourClosed = *t, t.Pings > 0
		*t = HourTally{Hour: time.Unix(hour, 0).UTC()}
	}
	t.Add(rec)
	return closed, hourClosed
}

// Add counts a recorded ping in the tally's hour.
func (t *HourTally) Add(rec PingRecorded) {
	t.Pings++
	switch rec.Kind {
	case KindSuccess:
		t.Successes++
	case KindFail:
		t.Failures++
	case KindStart:
		t.Starts++
	case KindLog:
		t.Logs++
	case KindIgnored:
		t.Ignored++
	}
	if rec.HasDuration {
		// Whole microseconds, as stored, so a tally restored from ClickHouse goes on
		// exactly as the one in memory would have.
		d := rec.Duration.Truncate(time.Microsecond)
		t.Runs++
		t.RunTotal += d
		t.RunLongest = max(t.RunLongest, d)
	}
}

// Run is a started run waiting for its success or fail ping.
type Run struct {
	RunID    schemas.ID
	HasRunID bool
	Started  time.Time
}

// Kind is what a ping meant once the check's configuration was applied.
type Kind uint8

// Recorded ping kinds, as Healthchecks' Ping.kind (success is its null).
const (
	KindSuccess Kind = 0
	KindStart   Kind = 1
	KindFail    Kind = 2
	KindLog     Kind = 3
	KindIgnored Kind = 4
)

var kindNames = [...]string{"success", "start", "fail", "log", "ign"}

// String returns the ClickHouse enum and API name of the kind.
func (k Kind) String() string { return kindNames[k] }

// Effect is an output of the fold for the shell to make durable.
type Effect interface{ isEffect() }

// PingRecorded says a ping becomes history row number N of its check.
type PingRecorded struct {
	N    uint64
	Kind Kind
	// Duration is the time since the matching start, when HasDuration.
	Duration    time.Duration
	HasDuration bool
}

// HourClosed says the check's pings moved on to a later hour: Tally is the final count
// of the one before.
type HourClosed struct {
	Tally HourTally
}

// Flipped says the stored status changed at At.
type Flipped struct {
	At     time.Time
	Change schemas.StatusChanged
}

func (PingRecorded) isEffect() {}
func (Flipped) isEffect()      {}
func (HourClosed) isEffect()   {}
