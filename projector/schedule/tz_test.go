package schedule

import (
	"slices"
	"testing"
	"time"
)

func TestCanonicalZone(t *testing.T) {
	tests := []struct {
		name, want string // want "" means invalid
	}{
		{"Europe/Riga", "Europe/Riga"},
		{"UTC", "UTC"},
		{"Etc/GMT+5", "Etc/GMT+5"},
		{"Europe/Kiev", "Europe/Kyiv"},
		{"UCT", "Etc/UTC"},
		{"US/Pacific", "America/Los_Angeles"},
		{"CET", "Europe/Brussels"},
		{"utc", ""},
		{"europe/riga", ""},
		{"", ""},
		{"Local", ""},
		{"Mars/Olympus", ""},
		// Zones the database knows but Healthchecks does not offer.
		{"posixrules", ""},
		{"Factory", ""},
	}
	for _, tt := range tests {
		got, ok := CanonicalZone(tt.name)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("CanonicalZone(%q) = %q %v, want %q", tt.name, got, ok, tt.want)
		}
	}
}

// The lists are Healthchecks' data: every name must load, and every alias must lead to a
// listed name.
func TestZoneLists(t *testing.T) {
	if len(zoneNames) != 483 || len(legacyZones) != 113 {
		t.Errorf("%d zones and %d aliases, want Healthchecks' 483 and 113", len(zoneNames), len(legacyZones))
	}
	if !slices.IsSorted(zoneNames) {
		t.Error("zoneNames must be sorted for binary search")
	}
	for _, name := range zoneNames {
		if _, err := time.LoadLocation(name); err != nil {
			t.Errorf("zone %s: %v", name, err)
		}
	}
	for alias, name := range legacyZones {
		if _, ok := slices.BinarySearch(zoneNames, name); !ok {
			t.Errorf("alias %s leads to %s, which is not listed", alias, name)
		}
		if _, ok := slices.BinarySearch(zoneNames, alias); ok {
			t.Errorf("alias %s is also listed", alias)
		}
	}
}

// Older events may carry a zone name as it was accepted then.
func TestNextAcceptsStoredZoneNames(t *testing.T) {
	after := utc("2026-07-01T12:00:00Z")
	for alias, name := range map[string]string{"Europe/Kiev": "Europe/Kyiv", "US/Pacific": "America/Los_Angeles", "Local": "UTC", "Mars/Olympus": "UTC"} {
		got, _ := NextCron("0 9 * * *", alias, after)
		want, _ := NextCron("0 9 * * *", name, after)
		if !got.Equal(want) {
			t.Errorf("cron in %s: %v, want %v as in %s", alias, got, want, name)
		}
		got, _ = NextOnCalendar("09:00", alias, after)
		want, _ = NextOnCalendar("09:00", name, after)
		if !got.Equal(want) {
			t.Errorf("OnCalendar in %s: %v, want %v as in %s", alias, got, want, name)
		}
	}
}
