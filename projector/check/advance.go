package check

import (
	"time"

	"github.com/hcstream/hcstream/schemas"
)

// Advance applies the passing of time: a check whose deadline (Healthchecks'
// going_down_after) is at or before now goes down with reason "timeout". The flip is
// dated at the deadline, not at now, as Healthchecks' sendalerts dates it, so a backlog
// folded late yields the same flips as live processing.
func Advance(s State, now time.Time) (State, []Effect) {
	if !s.Exists || s.Deleted || s.Status == schemas.StatusDown {
		return s, nil
	}
	deadline, ok := AlertAfter(s)
	if !ok || now.Before(deadline) {
		return s, nil
	}
	return s.flip(deadline, schemas.StatusDown, "timeout")
}

// NextDeadline is when Advance must next run for this check; false means never (until
// another event changes the state).
func NextDeadline(s State) (time.Time, bool) {
	if !s.Exists || s.Deleted || s.Status == schemas.StatusDown {
		return time.Time{}, false
	}
	return AlertAfter(s)
}

// Hold postpones a pending deadline by gap, the length of an ingest outage that ended
// now: the check keeps the time it had left when pings stopped reaching hcstream. It
// reports whether the check had a deadline to postpone.
func Hold(s State, gap time.Duration) (State, bool) {
	if _, ok := NextDeadline(s); !ok || gap <= 0 {
		return s, false
	}
	s.Held += gap
	return s, true
}
