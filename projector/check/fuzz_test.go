package check

import (
	"testing"
	"time"

	"github.com/hcstream/hcstream/schemas"
)

// eventsFromBytes turns fuzz input into a timeline: each byte picks an event and a gap.
func eventsFromBytes(data []byte, cfg schemas.CheckConfig) []schemas.Event {
	events := []schemas.Event{{CheckID: checkID, ProjectID: project, At: t0, Body: schemas.CheckCreated{Config: cfg}}}
	now := t0
	for _, b := range data {
		now = now.Add(time.Duration(b>>4) * 7 * time.Minute)
		var body schemas.Body
		switch b & 0x0f {
		case 0, 1, 2:
			body = ping(schemas.PingSuccess)
		case 3:
			body = ping(schemas.PingFail)
		case 4:
			body = ping(schemas.PingStart)
		case 5:
			body = withRID(ping(schemas.PingStart), ridA)
		case 6:
			body = withRID(ping(schemas.PingSuccess), ridA)
		case 7:
			body = ping(schemas.PingLog)
		case 8:
			body = schemas.PingReceived{Kind: schemas.PingExitStatus, ExitStatus: b}
		case 9:
			body = schemas.CheckPaused{}
		case 10:
			body = schemas.CheckResumed{}
		case 11:
			c := cfg
			c.ManualResume = !c.ManualResume
			body = schemas.CheckUpdated{Config: c}
		case 12:
			body = withRID(ping(schemas.PingFail), ridB)
		default:
			body = ping(schemas.PingSuccess)
		}
		events = append(events, schemas.Event{CheckID: checkID, ProjectID: project, At: now, Body: body})
	}
	return events
}

func FuzzApply(f *testing.F) {
	f.Add([]byte{0x10, 0x23, 0x34, 0x45, 0x56})
	f.Add([]byte{0x09, 0x13, 0x0a, 0x00, 0xf4, 0x06})
	f.Add([]byte{0x0b, 0x09, 0x03, 0x05, 0x0c, 0x08})
	f.Add([]byte{0x9b, 0x10, 0x13, 0x13, 0x13, 0x10, 0x10, 0x13, 0x10, 0x10})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := defaultConfig()
		if len(data) > 0 {
			// The first byte also picks thresholds of 1 to 4.
			cfg.FailureThreshold, cfg.RecoveryThreshold = uint16(1+data[0]&3), uint16(1+data[0]>>2&3)
		}
		events := eventsFromBytes(data, cfg)
		var s State
		var prevPings, prevFlips uint64
		var flips int
		// failures and successes are the current runs of each, counted by the test
		// itself: a fail flip must come exactly at the failure threshold, a recovery
		// exactly at the recovery threshold.
		var failures, successes int
		// Every ping is in exactly one hour: the closed hours plus the open one.
		var closedPings uint64
		for _, ev := range events {
			var effects []Effect
			s, effects = Apply(s, ev)
			// Time passes up to the event's time: a timeout flip is never early and is
			// dated at the deadline.
			deadline, due := NextDeadline(s)
			var timeouts []Effect
			s, timeouts = Advance(s, ev.At)
			for _, e := range timeouts {
				f := e.(Flipped)
				if !due || f.At.After(ev.At) || !f.At.Equal(deadline) || f.Change.Reason != "timeout" {
					t.Fatalf("timeout flip %+v at stream time %v, deadline %v %v", f, ev.At, deadline, due)
				}
			}
			effects = append(effects, timeouts...)
			if s.Status > schemas.StatusPaused {
				t.Fatalf("invalid status %d", s.Status)
			}
			if s.NPings < prevPings || s.FlipSeq < prevFlips {
				t.Fatalf("counters went backwards: n_pings %d→%d flip_seq %d→%d", prevPings, s.NPings, prevFlips, s.FlipSeq)
			}
			for _, e := range effects {
				switch e := e.(type) {
				case PingRecorded:
					switch e.Kind {
					case KindFail:
						failures, successes = failures+1, 0
					case KindSuccess:
						failures, successes = 0, successes+1
					}
				case HourClosed:
					closedPings += uint64(e.Tally.Pings)
					if !e.Tally.Hour.Before(s.Tally.Hour) {
						t.Fatalf("closed hour %v is not before the open one %v", e.Tally.Hour, s.Tally.Hour)
					}
				case Flipped:
					flips++
					if e.Change.Old == e.Change.New {
						t.Fatalf("flip to the same status %s", e.Change.New)
					}
					if e.Change.Reason == "fail" && failures != cfg.FailuresToAlert() {
						t.Fatalf("fail flip after %d failures, threshold %d", failures, cfg.FailuresToAlert())
					}
					if e.Change.Old == schemas.StatusDown && e.Change.New == schemas.StatusUp && successes != cfg.SuccessesToRecover() {
						t.Fatalf("recovery after %d successes, threshold %d", successes, cfg.SuccessesToRecover())
					}
					failures, successes = 0, 0
				}
			}
			if int(s.Streak) >= max(cfg.FailuresToAlert(), cfg.SuccessesToRecover()) {
				t.Fatalf("streak %d not below thresholds %+v", s.Streak, cfg)
			}
			if len(s.OpenRuns) > maxOpenRuns {
				t.Fatalf("%d open runs", len(s.OpenRuns))
			}
			prevPings, prevFlips = s.NPings, s.FlipSeq
		}
		if closedPings+uint64(s.Tally.Pings) != s.NPings {
			t.Fatalf("hours count %d + %d pings, n_pings %d", closedPings, s.Tally.Pings, s.NPings)
		}
		if uint64(flips) != s.FlipSeq {
			t.Fatalf("%d flips emitted, flip_seq %d", flips, s.FlipSeq)
		}
		// Folding in two chunks equals folding at once: the basis of snapshots and replay.
		half := len(events) / 2
		var a State
		for _, ev := range events[:half] {
			a, _ = Apply(a, ev)
			a, _ = Advance(a, ev.At)
		}
		snapshot := a
		for _, ev := range events[half:] {
			snapshot, _ = Apply(snapshot, ev)
			snapshot, _ = Advance(snapshot, ev.At)
		}
		if snapshot.NPings != s.NPings || snapshot.Status != s.Status || snapshot.FlipSeq != s.FlipSeq || !snapshot.LastPing.Equal(s.LastPing) || snapshot.Streak != s.Streak || snapshot.Tally != s.Tally {
			t.Fatalf("chunked fold differs")
		}
	})
}

func BenchmarkApplyPing(b *testing.B) {
	s, _ := Apply(State{}, schemas.Event{CheckID: checkID, ProjectID: project, At: t0, Body: schemas.CheckCreated{Config: defaultConfig()}})
	ev := schemas.Event{CheckID: checkID, ProjectID: project, At: t0, Body: ping(schemas.PingSuccess)}
	b.ReportAllocs()
	for b.Loop() {
		ev.At = ev.At.Add(time.Second)
		s, _ = Apply(s, ev)
	}
}

// BenchmarkApplyStartOfCronCheck is a start ping of an up cron check, nothing held: the
// commonest start a cron job sends.
func BenchmarkApplyStartOfCronCheck(b *testing.B) {
	cfg := defaultConfig()
	cfg.Kind, cfg.Schedule, cfg.TZ = schemas.KindCron, "0 * * * *", "Europe/Riga"
	s, _ := Apply(State{}, schemas.Event{CheckID: checkID, ProjectID: project, At: t0, Body: schemas.CheckCreated{Config: cfg}})
	s, _ = Apply(s, schemas.Event{CheckID: checkID, ProjectID: project, At: t0, Body: ping(schemas.PingSuccess)})
	ev := schemas.Event{CheckID: checkID, ProjectID: project, At: t0, Body: ping(schemas.PingStart)}
	b.ReportAllocs()
	for b.Loop() {
		ev.At = ev.At.Add(time.Second)
		s, _ = Apply(s, ev)
	}
}
