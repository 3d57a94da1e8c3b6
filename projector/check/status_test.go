package check

import (
	"testing"
	"time"

	"github.com/hcstream/hcstream/schemas"
)

// TestStatusAt covers StatusAt and how long StatusUntil says its answer holds.
func TestStatusAt(t *testing.T) {
	up := State{Exists: true, Status: schemas.StatusUp, LastPing: t0, Config: defaultConfig()}
	running := up
	running.LastStart = t0.Add(30 * time.Minute)
	newRunning := State{Exists: true, Status: schemas.StatusNew, LastStart: t0, Config: defaultConfig()}
	held := up
	held.Held = 5 * time.Minute
	downRunning := running
	downRunning.Status = schemas.StatusDown
	never := time.Time{}
	tests := []struct {
		name        string
		s           State
		now         time.Duration
		withStarted bool
		want        string
		until       time.Time
	}{
		{"up before timeout", up, 59 * time.Minute, false, "up", t0.Add(time.Hour)},
		{"grace exactly at timeout", up, time.Hour, false, "grace", t0.Add(70 * time.Minute)},
		{"down exactly at timeout + grace", up, 70 * time.Minute, false, "down", never},
		{"a hold postpones every deadline", held, 62 * time.Minute, false, "up", t0.Add(65 * time.Minute)},
		{"new stays new", State{Exists: true, Config: defaultConfig()}, 1000 * time.Hour, false, "new", never},
		{"paused stays paused", State{Exists: true, Status: schemas.StatusPaused, Config: defaultConfig()}, 1000 * time.Hour, false, "paused", never},
		{"v1 started within grace", running, 35 * time.Minute, true, "started", t0.Add(40 * time.Minute)},
		{"v3 running shows underlying status", running, 35 * time.Minute, false, "up", t0.Add(40 * time.Minute)},
		{"run overran its grace is down", running, 40 * time.Minute, false, "down", never},
		{"new check overrunning start is down", newRunning, 10 * time.Minute, true, "down", never},
		{"down stays down while running", downRunning, 35 * time.Minute, false, "down", never},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0.Add(tt.now)
			if got := StatusAt(tt.s, now, tt.withStarted); got != tt.want {
				t.Errorf("StatusAt = %q, want %q", got, tt.want)
			}
			if got, until := StatusUntil(tt.s, now, tt.withStarted); got != tt.want || !until.Equal(tt.until) {
				t.Errorf("StatusUntil = %q until %v, want %q until %v", got, until, tt.want, tt.until)
			}
		})
	}
}

// FuzzStatusUntil checks StatusUntil against StatusAt: the status holds from now up to
// the instant it names and changes exactly there; a status said to hold for good
// still holds a century later.
func FuzzStatusUntil(f *testing.F) {
	f.Add([]byte{0x01, 10, 0, 0, 60, 10, 30})
	f.Add([]byte{0x11, 10, 40, 0, 60, 10, 45})
	f.Add([]byte{0x05, 10, 0, 0, 1, 1, 0})
	f.Add([]byte{0x23, 0, 20, 3, 60, 10, 25})
	f.Fuzz(func(t *testing.T, data []byte) {
		data = append(data, make([]byte, 7)...)
		minutes := func(b byte) time.Duration { return time.Duration(b) * time.Minute }
		at := func(b byte) time.Time {
			if b == 0 {
				return time.Time{}
			}
			return t0.Add(minutes(b))
		}
		s := State{Exists: true, Status: schemas.Status(data[0] & 3), Config: defaultConfig()}
		withStarted := data[0]&0x10 != 0
		if data[0]&0x20 != 0 {
			s.Config.Kind, s.Config.Schedule = schemas.KindCron, "*/7 * * * *"
		}
		s.LastPing, s.LastStart, s.Held = at(data[1]), at(data[2]), minutes(data[3])
		s.Config.Timeout, s.Config.Grace = minutes(data[4])+time.Second, minutes(data[5])+time.Second
		now := t0.Add(minutes(data[6]) + time.Duration(data[0]>>6)*time.Second)

		status, until := StatusUntil(s, now, withStarted)
		if want := StatusAt(s, now, withStarted); status != want {
			t.Fatalf("StatusUntil says %q at now, StatusAt %q", status, want)
		}
		if until.IsZero() {
			if later := StatusAt(s, now.Add(100*365*24*time.Hour), withStarted); later != status {
				t.Fatalf("%q was to hold for good, but a century later it is %q", status, later)
			}
			return
		}
		if !until.After(now) {
			t.Fatalf("%q holds until %v, not after now %v", status, until, now)
		}
		for _, at := range []time.Time{now.Add(until.Sub(now) / 2), until.Add(-time.Nanosecond)} {
			if got := StatusAt(s, at, withStarted); got != status {
				t.Fatalf("%q was to hold until %v, but at %v it is %q", status, until, at, got)
			}
		}
		if got := StatusAt(s, until, withStarted); got == status {
			t.Fatalf("%q was to end at %v, but holds there", status, until)
		}
	})
}
