package schedule

import (
	"fmt"
	"math/bits"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// OnCalendar is a parsed set of systemd calendar events (systemd.time(7)), one per line,
// read as Healthchecks' oncalendar library reads them.
type OnCalendar struct {
	events []calendarEvent
}

// calendarEvent is one line: the wall-clock times it matches, and the zone it names.
type calendarEvent struct {
	zone     *time.Location // nil: the check's zone
	years    [4]uint64      // bit y-minYear
	months   uint16         // bit m
	days     uint32         // bit d
	lastDays uint32         // bit n: the n-th day from the end of the month ("~n"), 1 being the last
	weekdays uint8          // bit time.Weekday
	hours    uint32
	minutes  uint64
	seconds  uint64
}

const (
	minYear = 1970
	// maxYear ends the search: systemd, and the library after it, stop at 2200.
	maxYear = 2200
)

var shorthands = map[string]string{
	"minutely":     "*-*-* *:*:00",
	"hourly":       "*-*-* *:00:00",
	"daily":        "*-*-* 00:00:00",
	"monthly":      "*-*-01 00:00:00",
	"weekly":       "Mon *-*-* 00:00:00",
	"yearly":       "*-01-01 00:00:00",
	"annually":     "*-01-01 00:00:00",
	"quarterly":    "*-01,04,07,10-01 00:00:00",
	"semiannually": "*-01,07-01 00:00:00",
}

// ParseOnCalendar parses newline-separated calendar events. Each is
// "[weekdays] [[year-]month-day] [hour:minute[:second]] [zone]" or a shorthand such as
// "daily", where fields take lists (","), ranges (".."), repetitions ("/") and "*", weekdays
// are names, and "month~day" counts days from the end of the month. Every line must
// parse, as Healthchecks requires.
func ParseOnCalendar(expr string) (*OnCalendar, error) {
	var c OnCalendar
	for line := range strings.SplitSeq(strings.TrimFunc(expr, IsPythonSpace), "\n") {
		e, err := parseEvent(line)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrInvalid, line, err)
		}
		c.events = append(c.events, e)
	}
	return &c, nil
}

// IsPythonSpace is Python's str.isspace, which Healthchecks and its schedule libraries
// split and trim with: Go's unicode.IsSpace plus the ASCII information separators.
func IsPythonSpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

func parseEvent(line string) (calendarEvent, error) {
	var e calendarEvent
	line = strings.TrimFunc(line, IsPythonSpace)
	// The library looks for a zone only on a line with a space in it, and never in a
	// word starting with a digit or "*".
	if strings.Contains(line, " ") {
		i := strings.LastIndexFunc(line, IsPythonSpace)
		_, size := utf8.DecodeRuneInString(line[i:])
		if name := line[i+size:]; !strings.ContainsRune("0123456789*", rune(name[0])) {
			if loc := zones.get(name); loc != nil {
				e.zone, line = loc, strings.TrimRightFunc(line[:i], IsPythonSpace)
			}
		}
	}
	if s, ok := shorthands[strings.ToLower(line)]; ok {
		line = s
	}
	// "month~day" is read as "month-~day", so "~" must not follow a "-".
	parts := strings.FieldsFunc(strings.ReplaceAll(line, "~", "-~"), IsPythonSpace)
	if len(parts) == 0 {
		return e, fmt.Errorf("wrong number of fields")
	}

	hours, minutes, seconds := hourField.one(0), minuteField.one(0), secondField.one(0)
	if last := parts[len(parts)-1]; strings.Contains(last, ":") {
		parts = parts[:len(parts)-1]
		hms := strings.Split(last, ":")
		if len(hms) == 2 {
			hms = append(hms, "0")
		}
		if len(hms) != 3 {
			return e, fmt.Errorf("bad time")
		}
		var err error
		if hours, err = hourField.parse(hms[0], false); err != nil {
			return e, err
		}
		if minutes, err = minuteField.parse(hms[1], false); err != nil {
			return e, err
		}
		if seconds, err = secondField.parse(hms[2], false); err != nil {
			return e, err
		}
	}

	years, months, days := yearField.all(), monthField.all(), dayField.all()
	if n := len(parts); n > 0 && strings.Contains(parts[n-1], "-") && strings.ContainsRune("0123456789*", rune(parts[n-1][0])) {
		ymd := strings.Split(parts[n-1], "-")
		parts = parts[:n-1]
		if len(ymd) == 2 {
			ymd = append([]string{"*"}, ymd...)
		}
		if len(ymd) != 3 {
			return e, fmt.Errorf("bad date")
		}
		var err error
		if years, err = yearField.parse(ymd[0], false); err != nil {
			return e, err
		}
		if months, err = monthField.parse(ymd[1], false); err != nil {
			return e, err
		}
		if days, err = dayField.parse(ymd[2], false); err != nil {
			return e, err
		}
	}

	weekdays := weekdayField.all()
	if len(parts) > 0 {
		var err error
		if weekdays, err = weekdayField.parse(parts[0], false); err != nil {
			return e, err
		}
		parts = parts[1:]
	}
	if len(parts) > 0 {
		return e, fmt.Errorf("wrong number of fields")
	}

	e.years = years.bits
	for v := range months.values() {
		e.months |= 1 << v
	}
	for v := range days.values() {
		if v > 0 {
			e.days |= 1 << v
		} else if v < 0 {
			e.lastDays |= 1 << -v
		}
	}
	for v := range weekdays.values() {
		e.weekdays |= 1 << ((v + 1) % 7) // Monday is 0 in the syntax, 1 in time.Weekday
	}
	for v := range hours.values() {
		e.hours |= 1 << v
	}
	for v := range minutes.values() {
		e.minutes |= 1 << v
	}
	for v := range seconds.values() {
		e.seconds |= 1 << v
	}
	return e, nil
}

// calendarField is one component of an event and the values it allows.
type calendarField struct {
	name   string
	lo, hi int
	// base is the value of bit 0 in a valueSet: day sets hold negative "~n" values.
	base int
}

var (
	weekdayField = calendarField{"day-of-week", 0, 6, 0}
	yearField    = calendarField{"year", minYear, maxYear - 1, minYear}
	monthField   = calendarField{"month", 1, 12, 0}
	dayField     = calendarField{"day-of-month", 1, 31, -32}
	hourField    = calendarField{"hour", 0, 23, 0}
	minuteField  = calendarField{"minute", 0, 59, 0}
	secondField  = calendarField{"second", 0, 59, 0}
)

var weekdayNames = []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"}

// valueSet is a set of one field's values.
type valueSet struct {
	bits [4]uint64
	base int
}

func (s *valueSet) add(v int) { i := v - s.base; s.bits[i/64] |= 1 << (i % 64) }

func (s *valueSet) union(o valueSet) {
	for i := range s.bits {
		s.bits[i] |= o.bits[i]
	}
}

func (s valueSet) len() int {
	n := 0
	for _, w := range s.bits {
		n += bits.OnesCount64(w)
	}
	return n
}

func (s valueSet) first() int {
	for v := range s.values() {
		return v
	}
	return 0
}

// values yields the set's values in ascending order.
func (s valueSet) values() func(yield func(int) bool) {
	return func(yield func(int) bool) {
		for i, w := range s.bits {
			for ; w != 0; w &= w - 1 {
				if !yield(s.base + i*64 + bits.TrailingZeros64(w)) {
					return
				}
			}
		}
	}
}

func (f calendarField) empty() valueSet { return valueSet{base: f.base} }

func (f calendarField) one(v int) valueSet {
	s := f.empty()
	s.add(v)
	return s
}

func (f calendarField) all() valueSet { return f.span(f.lo, f.hi, 1) }

func (f calendarField) span(from, to, step int) valueSet {
	s := f.empty()
	for v := from; v <= to; v += step {
		s.add(v)
	}
	return s
}

func (f calendarField) bad() error { return fmt.Errorf("bad %s", f.name) }

// parse reads one field's text. It follows the library's order of rules, because that
// order decides which odd inputs are accepted: "Mon-Fri," is, "*/2" is not.
func (f calendarField) parse(s string, fromEnd bool) (valueSet, error) {
	if f == dayField && strings.HasPrefix(s, "~") {
		return f.parse(s[1:], true)
	}
	if f != weekdayField && s == "*" {
		return f.all(), nil
	}
	if strings.Contains(s, "*") {
		return valueSet{}, f.bad() // "*" stands alone, never in a list, range or repetition
	}
	if f == weekdayField {
		if trimmed, ok := strings.CutSuffix(s, ","); ok {
			return f.parse(trimmed, false) // systemd accepts "Mon, 12:00"
		}
		if strings.Contains(s, "-") {
			return f.parse(strings.ReplaceAll(s, "-", ".."), false) // "Mon-Fri" is "Mon..Fri"
		}
	}
	if strings.Contains(s, ",") {
		set := f.empty()
		for term := range strings.SplitSeq(s, ",") {
			part, err := f.parse(term, fromEnd)
			if err != nil {
				return valueSet{}, err
			}
			set.union(part)
		}
		return set, nil
	}
	if term, stepText, ok := strings.Cut(s, "/"); ok && f != weekdayField {
		step, ok := digits(stepText)
		if !ok || step == 0 {
			return valueSet{}, f.bad()
		}
		items, err := f.parse(term, fromEnd)
		if err != nil {
			return valueSet{}, err
		}
		if items.len() == 1 {
			// A single start repeats up to the end of the field's range, or of the month
			// when counting from its end.
			end := f.hi
			if fromEnd {
				end = 0
			}
			return f.span(items.first(), end, step), nil
		}
		set, i := f.empty(), 0
		for v := range items.values() {
			if i%step == 0 {
				set.add(v)
			}
			i++
		}
		return set, nil
	}
	if a, b, ok := strings.Cut(s, ".."); ok {
		from, err := f.value(a)
		if err != nil {
			return valueSet{}, err
		}
		to, err := f.value(b)
		if err != nil || to < from {
			return valueSet{}, f.bad()
		}
		if fromEnd {
			from, to = -to, -from
		}
		return f.span(from, to, 1), nil
	}
	v, err := f.value(s)
	if err != nil {
		return valueSet{}, err
	}
	if fromEnd {
		if v > 28 {
			return valueSet{}, f.bad() // as systemd: "~" counts back at most 28 days
		}
		v = -v
	}
	return f.one(v), nil
}

// value reads a weekday name, or a number within the field's range, with two-digit years
// meaning 1970-2069.
func (f calendarField) value(s string) (int, error) {
	if f == weekdayField {
		upper := strings.ToUpper(s)
		for i, name := range weekdayNames {
			if upper == name || upper == name[:3] {
				return i, nil
			}
		}
		return 0, f.bad()
	}
	v, ok := digits(s)
	if !ok {
		return 0, f.bad()
	}
	if f == yearField && v < 70 {
		v += 2000
	} else if f == yearField && v < 100 {
		v += 1900
	}
	if v < f.lo || v > f.hi {
		return 0, f.bad()
	}
	return v, nil
}

// digits reads a non-empty run of ASCII digits. Values past any field's range saturate
// rather than overflow.
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = min(n*10+int(s[i]-'0'), 1<<30)
	}
	return n, true
}

// Next returns the first match strictly after t, or false when no line matches before
// 2200. A line is read in its own zone when it names one, else in loc.
//
// Daylight-saving changes are handled as systemd handles them, and as Healthchecks
// expects: a wall time that the clock skips never matches (an event at 02:30 does not run
// on the night the clocks jump from 02:00 to 03:00, but the next day), and a wall time the
// clock shows twice matches once, at its first occurrence. This differs from cron here,
// which runs a skipped time just after the change, because Debian cron does: a monitor
// must expect the job when its scheduler runs it. Unlike the library, a ping during the
// repeated hour never yields a time before it: times the clock has already shown once are
// not expected again.
func (c *OnCalendar) Next(t time.Time, loc *time.Location) (time.Time, bool) {
	var best time.Time
	found := false
	for i := range c.events {
		e := &c.events[i]
		zone := e.zone
		if zone == nil {
			zone = loc
		}
		if next, ok := e.next(t, zone); ok && (!found || next.Before(best)) {
			best, found = next, true
		}
	}
	if !found {
		return time.Time{}, false
	}
	return best.In(loc), true
}

// NextOnCalendar is Next for an expression and zone name, with both parsed once and
// cached. An unknown zone is read as UTC.
func NextOnCalendar(expr, tz string, t time.Time) (time.Time, bool) {
	c := onCalendars.get(expr)
	if c == nil {
		return time.Time{}, false
	}
	return c.Next(t, zoneOrUTC(tz))
}

func (e *calendarEvent) next(t time.Time, zone *time.Location) (time.Time, bool) {
	from := searchStart(t, zone)
	for {
		w, ok := e.nextWall(from)
		if !ok {
			return time.Time{}, false
		}
		u, real := firstInstant(w, zone)
		switch {
		case !real:
			from = wallClock(u.In(zone))
			if !from.After(w) {
				from = w.Add(time.Second) // a zone that breaks firstInstant's assumption
			}
		case !u.After(t):
			// searchStart rules this out unless a zone's history defeats it; Next must
			// still answer after t.
			from = w.Add(time.Second)
		default:
			return u, true
		}
	}
}

// searchStart is where the search for wall times after t begins: just after the latest
// reading zone's clock has shown by t. That is usually t's own reading, but just after the
// clocks go back t reads a time already shown once, and every reading up to the last one
// before the change has had its first occurrence.
func searchStart(t time.Time, zone *time.Location) time.Time {
	local := t.In(zone)
	from := wallClock(local).Truncate(time.Second)
	if start, _ := local.ZoneBounds(); !start.IsZero() {
		if before := wallClock(start.Add(-time.Second).In(zone)); before.After(from) {
			from = before
		}
	}
	return from.Add(time.Second)
}

// wallClock is t's clock reading as a UTC time with the same fields, so that wall times
// compare and step without a zone.
func wallClock(t time.Time) time.Time {
	_, offset := t.Zone()
	return t.UTC().Add(time.Duration(offset) * time.Second)
}

// firstInstant returns the earliest instant at which zone's clock reads w (a wallClock
// value). When the clock jumps over w, it returns false and the instant the clock resumed.
func firstInstant(w time.Time, zone *time.Location) (time.Time, bool) {
	// An instant that reads w lies within a day of w read as UTC, and no zone has changed
	// its clocks twice within two days since 1970, so the offsets in force a day either
	// side are the only candidates. (ZoneBounds would say more, but past the end of a
	// zone's table it misplaces the end of the last period of a leap year.)
	_, before := w.Add(-24 * time.Hour).In(zone).Zone()
	_, after := w.Add(24 * time.Hour).In(zone).Zone()
	for _, offset := range [2]int{max(before, after), min(before, after)} {
		u := w.Add(-time.Duration(offset) * time.Second)
		if _, actual := u.In(zone).Zone(); actual == offset {
			return u, true
		}
	}
	// The clock moved forward over w: the change is after w-after and by w-before.
	lo, hi := w.Add(-time.Duration(after)*time.Second), w.Add(-time.Duration(before)*time.Second)
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
		if _, offset := mid.In(zone).Zone(); offset == before {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, false
}

// nextWall returns the first wall time at or after from that the event matches, or false
// if there is none before maxYear.
func (e *calendarEvent) nextWall(from time.Time) (time.Time, bool) {
	y, mo, d := from.Date()
	h, mi, s := from.Clock()
	if y < minYear {
		y, mo, d, h, mi, s = minYear, time.January, 1, 0, 0, 0
	}
	for ; y < maxYear; y, mo, d, h, mi, s = y+1, time.January, 1, 0, 0, 0 {
		if i := y - minYear; e.years[i/64]&(1<<(i%64)) == 0 {
			continue
		}
		for ; mo <= time.December; mo, d, h, mi, s = mo+1, 1, 0, 0, 0 {
			if e.months&(1<<mo) == 0 {
				continue
			}
			last := daysIn(y, mo)
			first := time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC).Weekday()
			for ; d <= last; d, h, mi, s = d+1, 0, 0, 0 {
				weekday := (int(first) + d - 1) % 7
				if e.weekdays&(1<<weekday) == 0 || e.days&(1<<d) == 0 && e.lastDays&(1<<(last+1-d)) == 0 {
					continue
				}
				for ; ; h, mi, s = h+1, 0, 0 {
					next, ok := nextBit(uint64(e.hours), h)
					if !ok {
						break
					}
					if next != h {
						h, mi, s = next, 0, 0
					}
					for ; ; mi, s = mi+1, 0 {
						next, ok := nextBit(e.minutes, mi)
						if !ok {
							break
						}
						if next != mi {
							mi, s = next, 0
						}
						if s, ok := nextBit(e.seconds, s); ok {
							return time.Date(y, mo, d, h, mi, s, 0, time.UTC), true
						}
					}
				}
			}
		}
	}
	return time.Time{}, false
}

// nextBit returns the lowest set bit of mask at or above from.
func nextBit(mask uint64, from int) (int, bool) {
	if from >= 64 {
		return 0, false
	}
	if m := mask >> from << from; m != 0 {
		return bits.TrailingZeros64(m), true
	}
	return 0, false
}
