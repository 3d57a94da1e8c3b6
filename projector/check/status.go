package check

import (
	"time"

	"github.com/hcstream/hcstream/projector/schedule"
	"github.com/hcstream/hcstream/schemas"
)

// Computed statuses beyond the stored ones.
const (
	// Grace is Healthchecks' "late": past the expected time, within the grace period.
	Grace = "grace"
	// Started is shown by API v1 while a run is in progress.
	Started = "started"
)

// StatusAt is Healthchecks' get_status: the status shown at now, less any outage hold.
// withStarted selects API v1's "started" while a run is within its grace time.
func StatusAt(s State, now time.Time, withStarted bool) string {
	status, _ := StatusUntil(s, now, withStarted)
	return status
}

// StatusUntil is StatusAt together with the instant the status stops holding if the
// check is left as it is, or the zero time if it holds for good. A list keeps a
// check's rendering while its state and its status are unchanged, and this tells it
// how long the status is without reading the state again.
func StatusUntil(s State, now time.Time, withStarted bool) (string, time.Time) {
	// Time an ingest outage took from the check does not count against it (see Hold),
	// so every deadline below moves later by the hold.
	now = now.Add(-s.Held)
	status, until := statusUntil(s, now, withStarted)
	if !until.IsZero() {
		until = until.Add(s.Held)
	}
	return status, until
}

func statusUntil(s State, now time.Time, withStarted bool) (string, time.Time) {
	var runDown time.Time
	if !s.LastStart.IsZero() {
		runDown = s.LastStart.Add(s.Config.Grace)
		if !now.Before(runDown) {
			return schemas.StatusDown.String(), time.Time{}
		}
		if withStarted {
			return Started, runDown
		}
	}
	switch s.Status {
	case schemas.StatusUp:
	case schemas.StatusDown:
		return s.Status.String(), time.Time{}
	default:
		return s.Status.String(), runDown
	}
	graceStart, ok := scheduleGraceStart(s)
	switch {
	case !ok:
		return schemas.StatusUp.String(), runDown
	case !now.Before(graceStart.Add(s.Config.Grace)):
		return schemas.StatusDown.String(), time.Time{}
	case !now.Before(graceStart):
		return Grace, earliest(runDown, graceStart.Add(s.Config.Grace))
	}
	return schemas.StatusUp.String(), earliest(runDown, graceStart)
}

// earliest is the earlier of two instants, where the zero time stands for never.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// NextPing is Healthchecks' get_grace_start(with_started=True), shown as next_ping:
// when the check is next expected, or false when it is not expected at all.
func NextPing(s State) (time.Time, bool) {
	graceStart, ok := scheduleGraceStart(s)
	if !s.LastStart.IsZero() && s.Status != schemas.StatusDown {
		if !ok || s.LastStart.Before(graceStart) {
			return s.LastStart, true
		}
	}
	return graceStart, ok
}

// AlertAfter is Healthchecks' going_down_after, postponed by any outage hold: when the
// check goes down if nothing arrives, or false for never.
func AlertAfter(s State) (time.Time, bool) {
	graceStart, ok := NextPing(s)
	if !ok {
		return time.Time{}, false
	}
	return graceStart.Add(s.Config.Grace + s.Held), true
}

// scheduleGraceStart is when an up check becomes late by its schedule, ignoring runs.
func scheduleGraceStart(s State) (time.Time, bool) {
	if s.Status != schemas.StatusUp || s.LastPing.IsZero() {
		return time.Time{}, false
	}
	switch s.Config.Kind {
	case schemas.KindSimple:
		return s.LastPing.Add(s.Config.Timeout), true
	case schemas.KindCron:
		return schedule.NextCron(s.Config.Schedule, s.Config.TZ, s.LastPing)
	case schemas.KindOnCalendar:
		return schedule.NextOnCalendar(s.Config.Schedule, s.Config.TZ, s.LastPing)
	}
	return time.Time{}, false
}
