package schedule

import (
	"testing"
	"time"
	_ "time/tzdata" // the same zone data the binary embeds
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNextCron(t *testing.T) {
	tests := []struct {
		name, expr, tz, after, want string
	}{
		{"every minute is strictly after the ping's minute", "* * * * *", "UTC", "2026-01-05T10:00:30Z", "2026-01-05T10:01:00Z"},
		{"daily at 9, pinged at 9:00:30: tomorrow", "0 9 * * *", "UTC", "2026-01-05T09:00:30Z", "2026-01-06T09:00:00Z"},
		{"weekdays", "0 9 * * mon-fri", "UTC", "2026-01-09T10:00:00Z", "2026-01-12T09:00:00Z"},
		{"names are case-insensitive", "0 9 * JAN-mar Sun", "UTC", "2026-01-05T00:00:00Z", "2026-01-11T09:00:00Z"},
		{"7 is Sunday", "0 0 * * 7", "UTC", "2026-01-05T00:00:00Z", "2026-01-11T00:00:00Z"},
		{"last day of month", "0 0 L * *", "UTC", "2026-02-01T00:00:00Z", "2026-02-28T00:00:00Z"},
		{"last weekday of month", "0 0 LW * *", "UTC", "2026-05-01T00:00:00Z", "2026-05-29T00:00:00Z"},
		{"last Friday", "0 0 * * 5L", "UTC", "2026-01-01T00:00:00Z", "2026-01-30T00:00:00Z"},
		{"second Monday", "0 0 * * 1#2", "UTC", "2026-01-01T00:00:00Z", "2026-01-12T00:00:00Z"},
		{"day of month OR day of week", "0 0 15 * MON", "UTC", "2026-01-06T00:00:00Z", "2026-01-12T00:00:00Z"},
		{"a * day field ANDs them", "0 0 */2 * MON", "UTC", "2026-01-06T00:00:00Z", "2026-01-19T00:00:00Z"},
		{"steps and lists", "5,35 */6 * * *", "UTC", "2026-01-05T06:36:00Z", "2026-01-05T12:05:00Z"},
		{"range with step", "0 8-18/5 * * *", "UTC", "2026-01-05T13:00:00Z", "2026-01-05T18:00:00Z"},
		{"leap day", "0 0 29 2 *", "UTC", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"time zone", "0 9 * * *", "Europe/Riga", "2026-01-05T08:00:00Z", "2026-01-06T07:00:00Z"},
		{"daily at 4, pinged at 3:18: today", "0 4 * * *", "UTC", "2026-12-02T03:18:00Z", "2026-12-02T04:00:00Z"},
		{"twice a day, pinged between", "0 9,17 * * *", "UTC", "2026-12-02T03:18:00Z", "2026-12-02T09:00:00Z"},
		{"weekly, pinged earlier that day", "0 4 * * 3", "UTC", "2026-12-02T03:18:00Z", "2026-12-02T04:00:00Z"},
		{"time zone, pinged earlier that day", "0 9 * * *", "Europe/Kyiv", "2026-12-02T03:18:00Z", "2026-12-02T07:00:00Z"},
		{"minute list, pinged late in an hour", "15,45 9 * * *", "UTC", "2026-12-02T08:50:00Z", "2026-12-02T09:15:00Z"},

		// Spring forward (Europe/Berlin, 2026-03-29 02:00 CET → 03:00 CEST): a job in the
		// skipped hour runs at the first real minute after it.
		{"Berlin skipped hour", "30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
		{"Berlin after the skipped day", "30 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
		// Fall back (2026-10-25 03:00 CEST → 02:00 CET): a job in the repeated hour runs
		// once, at its first occurrence.
		{"Berlin repeated hour, first occurrence", "30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},
		{"Berlin repeated hour, not twice", "30 2 * * *", "Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		// A job that is not at a specific time matches every real minute: both halves of
		// the repeated hour, and nothing in the skipped one.
		{"Berlin every 30 min, first pass", "*/30 * * * *", "Europe/Berlin", "2026-10-25T00:10:00Z", "2026-10-25T00:30:00Z"},
		{"Berlin every 30 min, second pass", "*/30 * * * *", "Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z"},
		{"Berlin hourly across the gap", "0 * * * *", "Europe/Berlin", "2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z"},
		// New York (2026-03-08 02:00 EST → 03:00 EDT, 2026-11-01 02:00 EDT → 01:00 EST).
		{"New York skipped 2:00", "0 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z"},
		{"New York repeated 1:30", "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"},
		// Sydney (DST ends 2026-04-05 03:00 AEDT → 02:00 AEST; starts 2026-10-04 02:00 → 03:00).
		{"Sydney repeated 2:30", "30 2 * * *", "Australia/Sydney", "2026-04-04T00:00:00Z", "2026-04-04T15:30:00Z"},
		{"Sydney skipped 2:30", "30 2 * * *", "Australia/Sydney", "2026-10-03T00:00:00Z", "2026-10-03T16:00:00Z"},
		// Midnight skipped (Santiago 2025-09-07, Havana 2026-03-08, Asuncion 2023-10-01):
		// the next day or month starts at the change. These never returned.
		{"Santiago weekdays past a skipped midnight", "*/15 * * * 1-5", "America/Santiago", "2025-09-06T03:45:10Z", "2025-09-08T03:00:00Z"},
		{"Havana hourly on weekdays", "0 * * * 1-5", "America/Havana", "2026-03-07T04:00:10Z", "2026-03-09T04:00:00Z"},
		{"Santiago on the 8th", "* * 8 * *", "America/Santiago", "2025-09-06T12:00:00Z", "2025-09-08T03:00:00Z"},
		{"Asuncion in October", "* * * 10 *", "America/Asuncion", "2023-09-15T12:00:00Z", "2023-10-01T04:00:00Z"},
		// Two-hour shifts (Antarctica/Troll) and a day skipped whole (Apia, 2011-12-30).
		{"Troll repeated 1:30", "30 1 * * *", "Antarctica/Troll", "2025-10-25T12:00:00Z", "2025-10-25T23:30:00Z"},
		{"Troll repeated 2:00", "0 2 * * *", "Antarctica/Troll", "2025-10-25T12:00:00Z", "2025-10-26T00:00:00Z"},
		{"Apia across the skipped day", "0 0 * * *", "Pacific/Apia", "2011-12-29T12:00:00Z", "2011-12-30T10:00:00Z"},
		// Both day fields restricted: either matches, so an impossible day of month
		// leaves the weekdays.
		{"31 February or Mondays", "0 9 31 2 MON", "UTC", "2025-01-01T00:00:00Z", "2025-02-03T09:00:00Z"},
		// cronsim reads a step after L or LW as nothing.
		{"L with a step", "0 0 L/2 * *", "UTC", "2025-06-10T00:00:00Z", "2025-06-30T00:00:00Z"},
		{"LW with a step, and a day", "0 0 1,LW/3 * *", "UTC", "2025-08-02T00:00:00Z", "2025-08-29T00:00:00Z"},
		{"31 April or Mon, Wed, Fri", "41 9 31 4 1,3,5", "Asia/Kolkata", "2025-01-01T00:00:00Z", "2025-04-02T04:11:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCron(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := c.Next(utc(tt.after), mustLoad(t, tt.tz))
			if !ok || !got.Equal(utc(tt.want)) {
				t.Errorf("Next(%s after %s in %s) = %v %v, want %s", tt.expr, tt.after, tt.tz, got.UTC(), ok, tt.want)
			}
		})
	}
}

func TestParseCronRejects(t *testing.T) {
	for _, expr := range []string{"", "@daily", "* * * * * *", "0 0 31 2 *", "1,2 61 * * *", "bad-expression", "0 0 * * 8", "0 0 * * 1#6", "*/0 * * * *", "5-1 * * * *", "0 0 L/0 * *", "0 0 L/x * *", "0 0 LW/ * *", "0 0 L/-1 * *"} {
		if _, err := ParseCron(expr); err == nil {
			t.Errorf("ParseCron(%q) accepted", expr)
		}
	}
	for _, expr := range []string{"0 9 * * mon-fri", "0 0 L * *", "0 0 * * 5L", "0 0 * * 1#2", "* * * * *"} {
		if _, err := ParseCron(expr); err != nil {
			t.Errorf("ParseCron(%q): %v", expr, err)
		}
	}
}

func TestIsCron(t *testing.T) {
	for expr, want := range map[string]bool{"0 9 * * *": true, " 0 9 * * * ": true, "* * * * * *": false, "daily": false, "12:34\n13:45": false} {
		if IsCron(expr) != want {
			t.Errorf("IsCron(%q) != %v", expr, want)
		}
	}
}

func FuzzParseCron(f *testing.F) {
	for _, seed := range []string{"* * * * *", "0 9 * * mon-fri", "0 0 L * *", "0 0 * * 5L", "0 0 * * 1#2", "*/7 1-5/2 LW */3 SUN#5"} {
		f.Add(seed, uint32(0))
	}
	for i, seed := range []string{"0 4 * * *", "0 9,17 * * *", "15,45 9 * * 3", "30 2 29 2 *"} {
		f.Add(seed, uint32(i*7919))
	}
	f.Fuzz(func(t *testing.T, expr string, minutes uint32) {
		c, err := ParseCron(expr)
		if err != nil {
			return
		}
		after := time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC).Add(time.Duration(minutes%(4*366*24*60))*time.Minute + 30*time.Second)
		next, ok := c.Next(after, time.UTC)
		if ok && !next.After(after) {
			t.Fatalf("%q: next %v is not after %v", expr, next, after)
		}
		// UTC has no repeated or skipped wall times, so the wall-clock search must find
		// what walking every minute finds.
		walk := *c
		walk.wallClock = false
		if want, wantOK := walk.Next(after, time.UTC); ok != wantOK || !next.Equal(want) {
			t.Fatalf("%q after %v: next %v, %v; walking every minute gives %v, %v", expr, after, next, ok, want, wantOK)
		}
	})
}

func BenchmarkNextCron(b *testing.B) {
	after := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		NextCron("0 9 * * mon-fri", "Europe/Berlin", after)
	}
}
