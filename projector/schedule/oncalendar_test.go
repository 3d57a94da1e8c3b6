package schedule

import (
	"testing"
	"time"
)

// Expected times are what Healthchecks' oncalendar library returns, except where a case
// says otherwise.
func TestNextOnCalendar(t *testing.T) {
	tests := []struct {
		name, expr, tz, after, want string // want "" means no match before 2200
	}{
		{"strictly after the ping's second", "12:34", "UTC", "2026-01-05T12:34:00Z", "2026-01-06T12:34:00Z"},
		{"later within the ping's minute", "12:34", "UTC", "2026-01-05T12:33:59.5Z", "2026-01-05T12:34:00Z"},
		{"weekday", "Mon *-*-* 09:00", "UTC", "2026-01-09T10:00:00Z", "2026-01-12T09:00:00Z"},
		{"weekday range", "Mon..Fri 09:00", "UTC", "2026-01-09T10:00:00Z", "2026-01-12T09:00:00Z"},
		{"weekday list", "Sat,Sun 10:00", "UTC", "2026-01-05T00:00:00Z", "2026-01-10T10:00:00Z"},
		{"last day of month", "*-*~1 12:00", "UTC", "2026-02-01T00:00:00Z", "2026-02-28T12:00:00Z"},
		{"third day from the end of February", "*-02~03", "UTC", "2026-02-01T00:00:00Z", "2026-02-26T00:00:00Z"},
		{"repetition from the end of the month", "*-*~7/2 06:00", "UTC", "2026-04-25T12:00:00Z", "2026-04-26T06:00:00Z"},
		{"repetition of days", "*-*-1/10 06:00", "UTC", "2026-01-12T00:00:00Z", "2026-01-21T06:00:00Z"},
		{"earliest line wins", "12:34\n13:45", "UTC", "2026-01-05T12:35:00Z", "2026-01-05T13:45:00Z"},
		{"daily", "daily", "UTC", "2026-01-05T10:00:00Z", "2026-01-06T00:00:00Z"},
		{"hourly", "hourly", "UTC", "2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z"},
		{"minutely", "minutely", "UTC", "2026-01-05T10:00:30Z", "2026-01-05T10:01:00Z"},
		{"weekly is Monday", "weekly", "UTC", "2026-01-05T10:00:00Z", "2026-01-12T00:00:00Z"},
		{"monthly", "monthly", "UTC", "2026-01-05T10:00:00Z", "2026-02-01T00:00:00Z"},
		{"quarterly", "quarterly", "UTC", "2026-05-05T10:00:00Z", "2026-07-01T00:00:00Z"},
		{"semiannually", "semiannually", "UTC", "2026-01-05T10:00:00Z", "2026-07-01T00:00:00Z"},
		{"yearly", "yearly", "UTC", "2026-01-05T10:00:00Z", "2027-01-01T00:00:00Z"},
		{"minute repetition", "*:0/15", "UTC", "2026-01-05T10:00:00Z", "2026-01-05T10:15:00Z"},
		{"seconds", "*-*-* *:*:30", "UTC", "2026-01-05T10:00:30Z", "2026-01-05T10:01:30Z"},
		{"two-digit year", "26-03-01 08:00", "UTC", "2026-01-05T10:00:00Z", "2026-03-01T08:00:00Z"},
		{"the last second searched", "2199-12-31 23:59:59", "UTC", "2026-01-05T10:00:00Z", "2199-12-31T23:59:59Z"},
		{"no leap day in 2199, and the search stops at 2200", "2199-2-29", "UTC", "2026-01-05T10:00:00Z", ""},
		{"check's zone", "09:00", "Europe/Riga", "2026-01-05T07:00:00Z", "2026-01-06T07:00:00Z"},
		{"a line's zone overrides the check's", "09:00 Europe/Riga", "America/New_York", "2026-01-05T10:00:00Z", "2026-01-06T07:00:00Z"},
		{"earliest of lines in different zones", "09:00 Europe/Riga\n09:00 Asia/Tokyo", "UTC", "2026-01-05T10:00:00Z", "2026-01-06T00:00:00Z"},
		{"legacy zone name", "09:00", "Europe/Kiev", "2026-01-05T07:00:00Z", "2026-01-06T07:00:00Z"},

		// Berlin: 2026-03-29 02:00 CET → 03:00 CEST, 2026-10-25 03:00 CEST → 02:00 CET.
		// A skipped wall time does not run that day, as under systemd.
		{"Berlin skipped 02:30", "02:30", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-30T00:30:00Z"},
		{"Berlin hourly across the gap", "hourly", "Europe/Berlin", "2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z"},
		// A repeated wall time runs once, at its first occurrence.
		{"Berlin repeated 02:30, first occurrence", "02:30", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},
		{"Berlin repeated 02:30, not twice", "02:30", "Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		{"Berlin every 30 min skips the second pass", "*:0/30", "Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z"},
		// A ping in the second pass (02:10 CET): the library answers 02:30 CEST, before the
		// ping; the wall times up to 03:00 have had their turn.
		{"Berlin ping in the second pass", "*:0/30", "Europe/Berlin", "2026-10-25T01:10:00Z", "2026-10-25T02:00:00Z"},

		// New York: 2026-03-08 02:00 EST → 03:00 EDT, 2026-11-01 02:00 EDT → 01:00 EST.
		{"New York skipped 02:00", "02:00", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-09T06:00:00Z"},
		{"New York repeated 01:30, first occurrence", "01:30", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"},
		{"New York repeated 01:30, not twice", "01:30", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},

		// Sydney: 2026-04-05 03:00 AEDT → 02:00 AEST, 2026-10-04 02:00 AEST → 03:00 AEDT.
		{"Sydney repeated 02:30, first occurrence", "02:30", "Australia/Sydney", "2026-04-04T00:00:00Z", "2026-04-04T15:30:00Z"},
		{"Sydney repeated 02:30, not twice", "02:30", "Australia/Sydney", "2026-04-04T15:30:00Z", "2026-04-05T16:30:00Z"},
		{"Sydney skipped 02:30", "02:30", "Australia/Sydney", "2026-10-03T00:00:00Z", "2026-10-04T15:30:00Z"},

		// Riga: 2026-03-29 03:00 EET → 04:00 EEST, 2026-10-25 04:00 EEST → 03:00 EET.
		{"Riga skipped day of month", "*-*-29 03:30", "Europe/Riga", "2026-03-01T00:00:00Z", "2026-04-29T00:30:00Z"},
		{"Riga repeated day of month", "*-*-25 03:30", "Europe/Riga", "2026-10-01T00:00:00Z", "2026-10-25T00:30:00Z"},
		{"Riga zone on the line", "03:30 Europe/Riga", "UTC", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		// A ping at 03:20 EET, in the second pass: the library answers 03:21 EEST, before
		// the ping; every 03:xx has had its turn, so the next is tomorrow.
		{"Riga ping in the second pass", "03:*", "Europe/Riga", "2026-10-25T01:20:00Z", "2026-10-26T01:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseOnCalendar(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			loc := zoneOrUTC(tt.tz)
			got, ok := c.Next(utc(tt.after), loc)
			if tt.want == "" {
				if ok {
					t.Errorf("Next(%q after %s in %s) = %v, want none", tt.expr, tt.after, tt.tz, got.UTC())
				}
				return
			}
			if !ok || !got.Equal(utc(tt.want)) {
				t.Errorf("Next(%q after %s in %s) = %v %v, want %s", tt.expr, tt.after, tt.tz, got.UTC(), ok, tt.want)
			}
			if cached, _ := NextOnCalendar(tt.expr, tt.tz, utc(tt.after)); !cached.Equal(got) {
				t.Errorf("NextOnCalendar = %v, Next = %v", cached, got)
			}
		})
	}
}

// The library accepts and rejects these (Validate also requires a match after 2000).
func TestParseOnCalendar(t *testing.T) {
	accepted := []string{
		"12:34", "*-*~1 12:00", "Mon *-*-* 09:00", "12:34\n13:45", "daily", "hourly", "DAILY",
		"daily Europe/Riga", "12:34 Europe/Riga", "12:34 US/Pacific", "Mon, 12:00", "Mon-Fri 12:00",
		"Mon..Wed,Fri 12:00", "*-*-* *:*:*", "0/2:00", "2020/2-1,7..9-1/2 1,2:3..4:5", "\n12:34\n",
		"12:34\r\n13:45", "00-01-01",
	}
	rejected := []string{
		"", "@daily", "* * * * * *", "bad-expression", "12:34 Europe/surprise", "Surprise 12:34",
		"12:34\nsurprise", "12:34\n\n13:45", "*/2:00", "5/0:00", "*-*~29", "*-*-~1", "Sun..Mon",
		"Mon,,Tue", "24:00", "1:2:3:4", "12:34:56.5", "100-01-01", "2200-01-01", "*-02-30x",
		"12:34 utc", "12:34 Local", "12:34 Europe//Riga", "12:34\tEurope/Riga", "Mon 12:00 2020-01-01",
		"12:34\u00a0Europe/Riga", // a zone counts only after a plain space
	}
	for _, expr := range accepted {
		if _, err := ParseOnCalendar(expr); err != nil {
			t.Errorf("ParseOnCalendar(%q): %v", expr, err)
		}
	}
	for _, expr := range rejected {
		if _, err := ParseOnCalendar(expr); err == nil {
			t.Errorf("ParseOnCalendar(%q) accepted", expr)
		}
	}
}

// FuzzOnCalendar: parsing never panics, and Next gives a time after t that the expression
// matches, with no match in between.
func FuzzOnCalendar(f *testing.F) {
	for _, seed := range []string{"12:34", "*-*~1 12:00", "Mon..Fri *-*-* 09:00", "12:34\n13:45 Europe/Riga", "daily",
		"*:0/15", "*-*~7/2 1..5:*:0/20", "2020/3-*-29 02:30", "Sat,Sun 03:*"} {
		f.Add(seed, int64(1792537200), uint8(0)) // 2026-10-25, around the clocks going back
		f.Add(seed, int64(1774746000), uint8(1)) // 2026-03-29, around the clocks going forward
	}
	zoneNames := []string{"Europe/Berlin", "Europe/Riga", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "UTC"}
	f.Fuzz(func(t *testing.T, expr string, unix int64, zone uint8) {
		c, err := ParseOnCalendar(expr)
		if err != nil {
			return
		}
		loc := zoneOrUTC(zoneNames[int(zone)%len(zoneNames)])
		after := time.Unix(1e9+unix%(4e9), 0) // 2001 to 2128
		next, ok := c.Next(after, loc)
		if !ok {
			return
		}
		if !next.After(after) {
			t.Fatalf("%q in %v: next %v is not after %v", expr, loc, next, after)
		}
		if !c.matchesAt(next, loc) {
			t.Fatalf("%q in %v: next %v does not match", expr, loc, next)
		}
		// Nothing between: checked second by second over the last hour before next.
		from := next.Add(-time.Hour)
		if from.Before(after) {
			from = after
		}
		for u := from.Truncate(time.Second).Add(time.Second); u.Before(next); u = u.Add(time.Second) {
			if c.matchesAt(u, loc) {
				t.Fatalf("%q in %v: %v matches, before next %v", expr, loc, u, next)
			}
		}
	})
}

// matchesAt reports whether u is a match of some line: its clock reading matches, and the
// clock shows that reading for the first time. It reads the parsed fields directly,
// independently of the search.
func (c *OnCalendar) matchesAt(u time.Time, loc *time.Location) bool {
	for _, e := range c.events {
		zone := e.zone
		if zone == nil {
			zone = loc
		}
		local := u.In(zone)
		y, m, d := local.Date()
		last := daysIn(y, m)
		switch {
		case y < minYear || y >= maxYear || e.years[(y-minYear)/64]&(1<<((y-minYear)%64)) == 0,
			e.months&(1<<m) == 0,
			e.days&(1<<d) == 0 && e.lastDays&(1<<(last+1-d)) == 0,
			e.weekdays&(1<<local.Weekday()) == 0,
			e.hours&(1<<local.Hour()) == 0,
			e.minutes&(1<<local.Minute()) == 0,
			e.seconds&(1<<local.Second()) == 0:
			continue
		}
		// After the clocks go back by δ, the same reading was shown δ earlier.
		_, now := local.Zone()
		_, dayBefore := u.Add(-24 * time.Hour).In(zone).Zone()
		if back := time.Duration(dayBefore-now) * time.Second; back > 0 && wallClock(u.Add(-back).In(zone)).Equal(wallClock(local)) {
			continue
		}
		return true
	}
	return false
}

func BenchmarkNextOnCalendar(b *testing.B) {
	for _, bb := range []struct{ name, expr, after string }{
		{"weekdays", "Mon..Fri *-*-* 09:00", "2026-01-05T10:00:00Z"},
		{"last day of month", "*-*~1 23:30", "2026-01-05T10:00:00Z"},
		{"two lines, one zoned", "09:00 America/New_York\n*:0/15", "2026-01-05T10:01:00Z"},
		{"over the clocks going forward", "02:30", "2026-03-28T12:00:00Z"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			after := utc(bb.after)
			b.ReportAllocs()
			for b.Loop() {
				NextOnCalendar(bb.expr, "Europe/Berlin", after)
			}
		})
	}
}
