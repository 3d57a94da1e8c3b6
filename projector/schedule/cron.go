package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed five-field cron expression.
type Cron struct {
	minutes, hours, doms, months uint64 // bit n set: value n matches
	lastDOM, lastWeekdayDOM      bool   // "L" and "LW" in the day-of-month field
	weekdays                     uint64 // bit d (0 = Sunday): any such weekday
	nthWeekdays                  map[[2]int]bool
	lastWeekdays                 uint64 // bit d: the last such weekday of the month ("5L")
	// dayAnd: when either day field starts with "*", both must match; otherwise either.
	dayAnd bool
	// wallClock: a job at specific times (neither minute nor hour starts with "*") runs
	// once per local time, as Debian cron does across daylight-saving changes.
	wallClock bool
}

var monthNames = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
var dayNames = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}

// maxDays is the longest each month can be, for rejecting impossible days ("31 2").
var maxDays = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// ParseCron parses a five-field expression: lists, ranges, steps, month and day names,
// day of week 0-7, "L" and "LW" in the day of month, "<d>L" and "<d>#<n>" in the day of
// week.
func ParseCron(expr string) (*Cron, error) {
	fields := strings.Fields(strings.ToUpper(expr))
	if len(fields) != 5 {
		return nil, fmt.Errorf("%w: want 5 fields, got %d", ErrInvalid, len(fields))
	}
	c := &Cron{nthWeekdays: map[[2]int]bool{}}
	var err error
	if c.minutes, err = parseField(fields[0], 0, 59, nil); err != nil {
		return nil, fmt.Errorf("%w: minute: %v", ErrInvalid, err)
	}
	if c.hours, err = parseField(fields[1], 0, 23, nil); err != nil {
		return nil, fmt.Errorf("%w: hour: %v", ErrInvalid, err)
	}
	if err = c.parseDOM(fields[2]); err != nil {
		return nil, fmt.Errorf("%w: day of month: %v", ErrInvalid, err)
	}
	if c.months, err = parseField(fields[3], 1, 12, monthNames); err != nil {
		return nil, fmt.Errorf("%w: month: %v", ErrInvalid, err)
	}
	if err = c.parseDOW(fields[4]); err != nil {
		return nil, fmt.Errorf("%w: day of week: %v", ErrInvalid, err)
	}
	c.dayAnd = strings.HasPrefix(fields[2], "*") || strings.HasPrefix(fields[4], "*")
	c.wallClock = !strings.HasPrefix(fields[0], "*") && !strings.HasPrefix(fields[1], "*")
	// A day of month that no chosen month has can never match ("0 0 31 2 *"), unless
	// the day of week alone may match ("0 9 31 2 MON": either field, as cronsim has it).
	if c.dayAnd && c.doms != 0 && !c.lastDOM && !c.lastWeekdayDOM {
		possible := false
		for m := 1; m <= 12; m++ {
			for d := 1; d <= maxDays[m]; d++ {
				possible = possible || (c.months&(1<<m) != 0 && c.doms&(1<<d) != 0)
			}
		}
		if !possible {
			return nil, fmt.Errorf("%w: day of month never occurs in the chosen months", ErrInvalid)
		}
	}
	return c, nil
}

func (c *Cron) parseDOM(field string) error {
	var rest []string
	for item := range strings.SplitSeq(field, ",") {
		// A step after L or LW changes nothing in cronsim ("L/2" is "L"), so it is
		// accepted as written there.
		if last, step, ok := strings.Cut(item, "/"); ok && (last == "L" || last == "LW") {
			if n, err := strconv.Atoi(step); err != nil || n < 1 || step[0] == '+' {
				return fmt.Errorf("bad step %q", item)
			}
			item = last
		}
		switch item {
		case "L":
			c.lastDOM = true
		case "LW":
			c.lastWeekdayDOM = true
		default:
			rest = append(rest, item)
		}
	}
	if len(rest) == 0 {
		return nil
	}
	bits, err := parseField(strings.Join(rest, ","), 1, 31, nil)
	c.doms = bits
	return err
}

func (c *Cron) parseDOW(field string) error {
	var rest []string
	for item := range strings.SplitSeq(field, ",") {
		if day, nth, ok := strings.Cut(item, "#"); ok {
			d, err1 := parseValue(day, 0, 7, dayNames)
			n, err2 := strconv.Atoi(nth)
			if err1 != nil || err2 != nil || n < 1 || n > 5 {
				return fmt.Errorf("bad nth weekday %q", item)
			}
			c.nthWeekdays[[2]int{d % 7, n}] = true
			continue
		}
		if day, ok := strings.CutSuffix(item, "L"); ok && day != "" {
			d, err := parseValue(day, 0, 7, dayNames)
			if err != nil {
				return fmt.Errorf("bad last weekday %q", item)
			}
			c.lastWeekdays |= 1 << (d % 7)
			continue
		}
		rest = append(rest, item)
	}
	if len(rest) == 0 {
		return nil
	}
	bits, err := parseField(strings.Join(rest, ","), 0, 7, dayNames)
	if bits&(1<<7) != 0 {
		bits |= 1 // 7 is Sunday too
	}
	c.weekdays = bits &^ (1 << 7)
	return err
}

// parseField parses a list of "*", "v", "a-b", each optionally "/step".
func parseField(field string, lo, hi int, names []string) (uint64, error) {
	var bits uint64
	for item := range strings.SplitSeq(field, ",") {
		rng, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			var err error
			if step, err = strconv.Atoi(stepText); err != nil || step < 1 || step > hi-lo+1 {
				return 0, fmt.Errorf("bad step %q", item)
			}
		}
		from, to := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if from, err = parseValue(a, lo, hi, names); err != nil {
				return 0, err
			}
			if to, err = parseValue(b, lo, hi, names); err != nil {
				return 0, err
			}
			if from > to {
				return 0, fmt.Errorf("bad range %q", rng)
			}
		default:
			v, err := parseValue(rng, lo, hi, names)
			if err != nil {
				return 0, err
			}
			from, to = v, v
			if hasStep {
				to = hi
			}
		}
		for v := from; v <= to; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

func parseValue(s string, lo, hi int, names []string) (int, error) {
	for i, n := range names {
		if s == n {
			return i + lo, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%q is not in %d-%d", s, lo, hi)
	}
	return v, nil
}

func (c *Cron) matchDay(y int, m time.Month, d int) bool {
	last := daysIn(y, m)
	dow := int(time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday())
	dom := c.doms&(1<<d) != 0 || (c.lastDOM && d == last) || (c.lastWeekdayDOM && d == lastWeekday(y, m))
	wd := c.weekdays&(1<<dow) != 0 || (c.lastWeekdays&(1<<dow) != 0 && d+7 > last) || c.nthWeekdays[[2]int{dow, (d + 6) / 7}]
	if c.dayAnd {
		return dom && wd
	}
	return dom || wd
}

func daysIn(y int, m time.Month) int { return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day() }

func lastWeekday(y int, m time.Month) int {
	d := daysIn(y, m)
	for {
		switch time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday() {
		case time.Saturday, time.Sunday:
			d--
		default:
			return d
		}
	}
}

// searchYears bounds the search, as Healthchecks gives up after 50 years.
const searchYears = 50

// Next returns the first match strictly after the minute of t, in loc. Jobs at specific
// times follow local wall-clock time: a time skipped by a daylight-saving change runs at
// the first real minute after it, and a repeated hour runs once, at its first
// occurrence. Other jobs match every real minute whose local time matches.
func (c *Cron) Next(t time.Time, loc *time.Location) (time.Time, bool) {
	start := t.In(loc).Truncate(time.Minute)
	if c.wallClock {
		return c.nextWallClock(start, loc)
	}
	limit := start.AddDate(searchYears, 0, 0)
	for cur := start.Add(time.Minute); cur.Before(limit); {
		local := cur.In(loc)
		y, m, d := local.Date()
		next := cur
		switch {
		case c.months&(1<<int(m)) == 0:
			next = dayStart(y, m+1, 1, loc)
		case !c.matchDay(y, m, d):
			next = dayStart(y, m, d+1, loc)
		case c.hours&(1<<local.Hour()) == 0:
			next = cur.Add(time.Duration(60-local.Minute()) * time.Minute)
		case c.minutes&(1<<local.Minute()) == 0:
			next = cur.Add(time.Minute)
		default:
			return cur, true
		}
		// Every step moves forward, whatever a zone's history holds, so the search ends.
		cur = later(next, cur.Add(time.Minute))
	}
	return time.Time{}, false
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// dayStart is the first instant of the local date y-m-d (normalized as time.Date
// normalizes it). Where a daylight-saving change skips midnight (America/Santiago,
// America/Havana), time.Date answers an instant of the day before, from which the
// search would never move on: the day starts at the change instead. A date a zone
// skipped whole (Pacific/Apia, 2011-12-30) starts the day after.
func dayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	wy, wm, wd := time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Date()
	want := civil(wy, wm, wd)
	t := time.Date(wy, wm, wd, 0, 0, 0, 0, loc)
	for range 48 * 60 {
		if ly, lm, ld := t.In(loc).Date(); civil(ly, lm, ld) >= want {
			break
		}
		t = t.Add(time.Minute)
	}
	return t
}

// civil orders local dates.
func civil(y int, m time.Month, d int) int { return y*10000 + int(m)*100 + d }

// nextWallClock walks local dates and times without a zone, then places the match.
func (c *Cron) nextWallClock(start time.Time, loc *time.Location) (time.Time, bool) {
	y, m, d := start.Date()
	// The first day is searched from the minute after start, later days from midnight.
	hh, mm := start.Hour(), start.Minute()+1
	for range searchYears * 366 {
		if c.months&(1<<int(m)) != 0 && c.matchDay(y, m, d) {
			for h := hh; h < 24; h++ {
				if c.hours&(1<<h) == 0 {
					continue
				}
				// Only start's own hour begins after its minute.
				first := 0
				if h == hh {
					first = mm
				}
				for mi := first; mi < 60; mi++ {
					if c.minutes&(1<<mi) != 0 {
						return place(y, m, d, h, mi, loc), true
					}
				}
			}
		}
		next := time.Date(y, m, d+1, 12, 0, 0, 0, time.UTC)
		y, m, d = next.Date()
		hh, mm = 0, 0
	}
	return time.Time{}, false
}

// place turns a local wall time into an instant: the first occurrence of a repeated
// time, or the first real minute after a skipped one.
func place(y int, m time.Month, d, h, mi int, loc *time.Location) time.Time {
	// A zone may skip a whole day (Pacific/Apia, 2011-12-30): look up to two days on.
	for shift := 0; shift < 48*60; shift++ {
		wall := time.Date(y, m, d, h, mi+shift, 0, 0, time.UTC)
		t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), 0, 0, loc)
		if t.Hour() == wall.Hour() && t.Minute() == wall.Minute() && t.Day() == wall.Day() {
			// time.Date may pick the later of two instants with this wall time; daylight
			// saving shifts are an hour or half an hour, or two hours (Antarctica/Troll).
			// The longest shift first finds the earliest instant.
			for _, back := range []time.Duration{2 * time.Hour, time.Hour, 30 * time.Minute} {
				if e := t.Add(-back); e.Hour() == t.Hour() && e.Minute() == t.Minute() && e.Day() == t.Day() {
					return e
				}
			}
			return t
		}
	}
	return time.Date(y, m, d, h, mi, 0, 0, loc)
}

// NextCron is Next for an expression and zone name, with both parsed once and cached. An
// unknown zone is read as UTC.
func NextCron(expr, tz string, t time.Time) (time.Time, bool) {
	c := crons.get(expr)
	if c == nil {
		return time.Time{}, false
	}
	return c.Next(t, zoneOrUTC(tz))
}
