package schedule

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ErrInvalid is returned for an expression Healthchecks would reject.
var ErrInvalid = errors.New("schedule is not a valid cron or OnCalendar expression")

// IsCron reports whether Healthchecks treats schedule as cron: one line of exactly five
// fields. Everything else is OnCalendar.
func IsCron(schedule string) bool {
	s := strings.TrimSpace(schedule)
	return !strings.Contains(s, "\n") && len(strings.Fields(s)) == 5
}

// Validate returns nil when Healthchecks' API accepts schedule: it parses as cron or
// OnCalendar, whichever IsCron picks, and matches at least once after the start of 2000
// (UTC).
func Validate(schedule string) error {
	since := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	var matches bool
	if IsCron(schedule) {
		c, err := ParseCron(schedule)
		if err != nil {
			return err
		}
		_, matches = c.Next(since, time.UTC)
	} else {
		c, err := ParseOnCalendar(schedule)
		if err != nil {
			return err
		}
		_, matches = c.Next(since, time.UTC)
	}
	if !matches {
		return fmt.Errorf("%w: it never matches after %d", ErrInvalid, since.Year())
	}
	return nil
}

func zoneOrUTC(name string) *time.Location {
	if loc := zones.get(name); loc != nil {
		return loc
	}
	return time.UTC
}

// The fold asks for the next time on every ping, so schedules are parsed and zones loaded
// once. An invalid expression or unknown zone is cached as nil.
var (
	crons = &cache[*Cron]{load: func(expr string) *Cron {
		c, _ := ParseCron(expr)
		return c
	}}
	onCalendars = &cache[*OnCalendar]{load: func(expr string) *OnCalendar {
		c, _ := ParseOnCalendar(expr)
		return c
	}}
	zones = &cache[*time.Location]{load: loadZone}
)

// cacheLimit bounds each cache; a fleet has far fewer distinct schedules and zones.
const cacheLimit = 10000

// cache remembers what load returned for each key. When full it starts afresh, which
// costs a few parses and is simpler than tracking use.
type cache[T any] struct {
	load func(string) T
	mu   sync.Mutex
	m    map[string]T
}

func (c *cache[T]) get(key string) T {
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = c.load(key)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= cacheLimit {
		c.m = make(map[string]T)
	}
	c.m[key] = v
	c.mu.Unlock()
	return v
}
