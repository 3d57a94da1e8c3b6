package projector

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
)

// A merged write keeps each check's row of the last step that has one, and every
// other row, step and table as it was.
func TestMergedBatchesKeepEachChecksLastRow(t *testing.T) {
	a, b, c := schemas.ID{1}, schemas.ID{2}, schemas.ID{3}
	names := map[schemas.ID]string{a: "a", b: "b", c: "c"}
	row := func(id schemas.ID, version uint64) history.CheckRow {
		return history.CheckRow{Version: version, State: check.State{CheckID: id}}
	}
	for _, tc := range []struct {
		name  string
		steps [][]history.CheckRow
		want  string
	}{
		{"one step is left alone", [][]history.CheckRow{{row(a, 1), row(b, 2)}}, "[a1 b2]"},
		{"a check in every step", [][]history.CheckRow{{row(a, 1)}, {row(a, 2)}, {row(a, 3)}}, "[] [] [a3]"},
		{"checks in different steps", [][]history.CheckRow{{row(a, 1), row(b, 2)}, {row(c, 3)}, {row(a, 4)}}, "[b2] [c3] [a4]"},
		{"the last row of a check is kept where it is", [][]history.CheckRow{{row(a, 1), row(b, 2)}, {row(b, 3), row(c, 4)}, {}}, "[a1] [b3 c4] []"},
		{"no rows", [][]history.CheckRow{{}, {}}, "[] []"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var merged batch
			for _, rows := range tc.steps {
				merged.steps = append(merged.steps, history.Batch{Checks: slices.Clone(rows), Pings: []history.Ping{{}}})
			}
			merged.dropSupersededChecks()
			var got []string
			for _, step := range merged.steps {
				var ids []string
				for _, r := range step.Checks {
					ids = append(ids, fmt.Sprintf("%s%d", names[r.State.CheckID], r.Version))
				}
				got = append(got, "["+strings.Join(ids, " ")+"]")
				if len(step.Pings) != 1 {
					t.Errorf("a step's pings changed: %d, want 1", len(step.Pings))
				}
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("rows left: %q, want %q", g, tc.want)
			}
		})
	}
}
