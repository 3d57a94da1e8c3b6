package schedule

import "testing"

// The cases of Healthchecks' validator: it must parse, and match at least once after the
// start of 2000.
func TestValidate(t *testing.T) {
	for _, expr := range []string{"12:34", "*-*~1 12:00", "Mon *-*-* 09:00", "12:34\n13:45", "daily", "hourly",
		"0 9 * * mon-fri", "0 0 L * *", "0 0 * * 5L", "0 0 * * 1#2", "1999-01-01\n12:00"} {
		if err := Validate(expr); err != nil {
			t.Errorf("Validate(%q): %v", expr, err)
		}
	}
	for _, expr := range []string{"", "@daily", "* * * * * *", "0 0 31 2 *", "1,2 61 * * *", "bad-expression",
		"12:34 Europe/surprise", "Surprise 12:34", "12:34\nsurprise", "1999-01-01", "00-01-01", "2199-02-29", "   "} {
		if err := Validate(expr); err == nil {
			t.Errorf("Validate(%q) accepted", expr)
		}
	}
}
