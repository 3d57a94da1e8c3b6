// Package schedule computes when a check is next expected: the first match of its cron or
// OnCalendar schedule strictly after its last ping, in the check's time zone, with the
// daylight-saving handling of the scheduler that runs such jobs (Debian cron, systemd), as
// Healthchecks evaluates it. It also says which schedules and zone names Healthchecks
// accepts.
//
// It is pure: it reads no clock, does no I/O beyond the time zone database and imports only
// the standard library.
package schedule
