package check

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hcstream/hcstream/projector/schedule"
	"github.com/hcstream/hcstream/schemas"
)

// Apply folds one event into the state of its check. Events for a check that does not
// exist (or no longer exists) change nothing, which makes the fold total.
func Apply(s State, ev schemas.Event) (State, []Effect) {
	switch body := ev.Body.(type) {
	case schemas.CheckCreated:
		if s.Exists {
			// A second create for the same ID (a racing auto-provision) keeps the first.
			return s, nil
		}
		return State{
			ProjectID: ev.ProjectID, CheckID: ev.CheckID, Exists: true,
			Config: body.Config, Created: ev.At, Status: schemas.StatusNew,
		}, nil
	}
	if !s.Exists || s.Deleted {
		return s, nil
	}
	switch body := ev.Body.(type) {
	case schemas.CheckUpdated:
		s.Config = body.Config
		return s, nil
	case schemas.CheckDeleted:
		s.Deleted = true
		return s, nil
	case schemas.CheckPaused:
		if s.Status == schemas.StatusPaused {
			return s, nil
		}
		s.clearRun()
		return s.flip(ev.At, schemas.StatusPaused, "")
	case schemas.CheckResumed:
		if s.Status != schemas.StatusPaused {
			return s, nil
		}
		s.clearRun()
		s.LastPing = time.Time{}
		return s.flip(ev.At, schemas.StatusNew, "")
	case schemas.PingReceived:
		return s.ping(ev.At, body)
	}
	return s, nil
}

// Classify decides what a ping means for a check with this configuration and stored
// status, in Healthchecks' order: URL, then methods, then body keywords, then
// manual_resume.
func Classify(cfg schemas.CheckConfig, status schemas.Status, p schemas.PingReceived) Kind {
	kind := urlKind(p)
	if cfg.Methods == "POST" && p.Method != "POST" {
		kind = KindIgnored
	}
	if kind != KindIgnored && cfg.FilterHTTPBody {
		kind = keywordKind(cfg, p.Body)
	}
	if status == schemas.StatusPaused && cfg.ManualResume {
		kind = KindIgnored
	}
	return kind
}

func urlKind(p schemas.PingReceived) Kind {
	switch p.Kind {
	case schemas.PingStart:
		return KindStart
	case schemas.PingFail:
		return KindFail
	case schemas.PingLog:
		return KindLog
	case schemas.PingExitStatus:
		if p.ExitStatus != 0 {
			return KindFail
		}
	}
	return KindSuccess
}

func keywordKind(cfg schemas.CheckConfig, body []byte) Kind {
	// Healthchecks answers 500 to a non-UTF-8 body here; the ping is already durable in
	// hcstream, so invalid bytes are replaced and the body is still classified.
	text := string(body)
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	switch {
	case containsKeyword(text, cfg.FailureKeywords):
		return KindFail
	case containsKeyword(text, cfg.SuccessKeywords):
		return KindSuccess
	case containsKeyword(text, cfg.StartKeywords):
		return KindStart
	case cfg.FilterDefaultFail:
		return KindFail
	}
	return KindIgnored
}

// containsKeyword reports whether text contains any of the comma-separated keywords,
// each trimmed, empty ones skipped, matched case-sensitively.
func containsKeyword(text, keywords string) bool {
	for kw := range strings.SplitSeq(keywords, ",") {
		if kw = StripSpace(kw); kw != "" && strings.Contains(text, kw) {
			return true
		}
	}
	return false
}

func (s State) ping(at time.Time, p schemas.PingReceived) (State, []Effect) {
	kind := Classify(s.Config, s.Status, p)
	s.NPings++
	rec := PingRecorded{N: s.NPings, Kind: kind}
	if kind == KindSuccess || kind == KindFail {
		rec.Duration, rec.HasDuration = s.finishRun(at, p.RunID, p.HasRunID)
	}
	closed, hourClosed := s.Tally.count(at, rec)
	effects := s.applyPing(at, p, rec)
	if hourClosed {
		effects = append(effects, HourClosed{Tally: closed})
	}
	return s, effects
}

func (s *State) applyPing(at time.Time, p schemas.PingReceived, rec PingRecorded) []Effect {
	kind := rec.Kind
	switch kind {
	case KindStart:
		s.Held = s.heldAfterStart(at)
		s.LastStart, s.LastStartRunID, s.LastStartHasRunID = at, p.RunID, p.HasRunID
		s.rememberRun(Run{RunID: p.RunID, HasRunID: p.HasRunID, Started: at})
	case KindSuccess, KindFail:
		s.Held = 0
		s.LastPing = at
		s.LastDuration = 0
		if !s.LastStart.IsZero() {
			switch {
			case s.LastStartHasRunID == p.HasRunID && s.LastStartRunID == p.RunID:
				s.LastDuration = at.Sub(s.LastStart)
				s.clearLastStart()
			case kind == KindFail || !p.HasRunID:
				s.clearLastStart()
			}
		}
		newStatus, reason := schemas.StatusUp, ""
		if kind == KindFail {
			newStatus, reason = schemas.StatusDown, "fail"
		}
		switch {
		case newStatus == s.Status:
			s.Streak = 0
		case s.Streak+1 < uint16(s.pingsToFlip(newStatus)):
			s.Streak++
		default:
			var flips []Effect
			*s, flips = s.flip(at, newStatus, reason)
			return append([]Effect{rec}, flips...)
		}
	}
	return []Effect{rec}
}

// pingsToFlip is how many consecutive pings it takes to flip to status: the failure
// threshold for down, the recovery threshold for up from down. A new or paused check
// goes up on its first success, as there is no failure to recover from.
func (s State) pingsToFlip(to schemas.Status) int {
	switch {
	case to == schemas.StatusDown:
		return s.Config.FailuresToAlert()
	case s.Status == schemas.StatusDown:
		return s.Config.SuccessesToRecover()
	}
	return 1
}

func (s State) flip(at time.Time, to schemas.Status, reason string) (State, []Effect) {
	s.FlipSeq++
	s.Streak = 0
	change := schemas.StatusChanged{FlipSeq: s.FlipSeq, Old: s.Status, New: to, Reason: reason}
	s.Status = to
	return s, []Effect{Flipped{At: at, Change: change}}
}

func (s *State) clearLastStart() {
	s.LastStart, s.LastStartRunID, s.LastStartHasRunID = time.Time{}, schemas.ID{}, false
}

// clearRun ends the run in progress, as a pause or a resume does. The open runs stay:
// the pings list still pairs a later success with an earlier start of its rid across
// a pause, as Healthchecks looks back through the pings themselves.
func (s *State) clearRun() {
	s.clearLastStart()
	s.Held = 0
}

// heldAfterStart is what remains of the hold once a run starts at at. The check is due
// at min(schedule, start) + grace, both moved by the hold: the deadline by schedule
// keeps its postponement for as long as it comes before the start, and a run that
// starts after an outage gets none of it.
func (s State) heldAfterStart(at time.Time) time.Duration {
	if s.Held == 0 {
		// Nearly always: no schedule to evaluate (a cron one costs microseconds).
		return 0
	}
	graceStart, ok := scheduleGraceStart(s)
	if !ok || !graceStart.Before(at) {
		return 0
	}
	return min(s.Held, at.Sub(graceStart))
}

func (s *State) rememberRun(r Run) {
	runs := make([]Run, 0, maxOpenRuns)
	for _, open := range s.OpenRuns {
		if open.HasRunID != r.HasRunID || open.RunID != r.RunID {
			runs = append(runs, open)
		}
	}
	if len(runs) == maxOpenRuns {
		runs = runs[1:]
	}
	// A fresh slice keeps earlier states (and so replays and snapshots) unaliased.
	s.OpenRuns = append(runs, r)
}

// finishRun pairs a success or fail with the latest start of the same rid and forgets it.
func (s *State) finishRun(at time.Time, rid schemas.ID, hasRID bool) (time.Duration, bool) {
	for i, open := range s.OpenRuns {
		if open.HasRunID != hasRID || open.RunID != rid {
			continue
		}
		runs := make([]Run, 0, len(s.OpenRuns)-1)
		runs = append(append(runs, s.OpenRuns[:i]...), s.OpenRuns[i+1:]...)
		if len(runs) == 0 {
			runs = nil
		}
		s.OpenRuns = runs
		if d := at.Sub(open.Started); d >= 0 && d < maxRunDuration {
			return d, true
		}
		return 0, false
	}
	return 0, false
}

// StripSpace is Python's str.strip(): it also takes the separators \x1c-\x1f, which
// strings.TrimSpace keeps.
func StripSpace(s string) string {
	return strings.TrimFunc(s, schedule.IsPythonSpace)
}
