package query

import (
	"context"
	"iter"

	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/query/store"
	"github.com/hcstream/hcstream/schemas"
)

// LiveChecks is the check state a projector or a follower in this process has folded,
// which is fresher than ClickHouse by up to one write interval.
type LiveChecks interface {
	Check(id schemas.ID) (history.CheckRow, bool)
	// HoldsAll reports whether every partition of the events topic is folded here, so
	// that every check has a live row.
	HoldsAll() bool
	// ProjectChecks yields every row of a project's checks, deleted ones included,
	// ordered by creation; false when not every partition is folded here. A yielded
	// row is valid until the next one.
	ProjectChecks(project schemas.ID) (iter.Seq[history.LazyRow], bool)
	// ProjectChanges yields the rows of a project's checks changed after since, or,
	// with Complete set, every row of them when since does not reach back that far (a
	// nil since never does); false when not every partition is folded here.
	ProjectChanges(project schemas.ID, since history.ChangeCursor) (history.ProjectChanges, bool)
	// AwaitWritten waits until the check's rows up to version are in ClickHouse, as the
	// projector writing them reports it (a follower goes by the projectors' commits) and
	// the live rows here have them; false when the check's partition is not folded here.
	AwaitWritten(ctx context.Context, check schemas.ID, version uint64) (bool, error)
}

// WithLiveChecks returns st with check reads answered from live where live holds the
// check, so a ping shows in the API as soon as it is folded rather than once its batch
// is in ClickHouse. The read-your-writes waits still end only once ClickHouse holds the
// rows (so ingest can already see a check a write made), but a projector in this
// process tells when that is instead of the API polling ClickHouse for it.
func WithLiveChecks(st Store, live LiveChecks) Store {
	return liveStore{Store: st, live: live}
}

type liveStore struct {
	Store
	live LiveChecks
}

func (s liveStore) Check(ctx context.Context, project, check schemas.ID) (history.CheckRow, error) {
	row, ok := s.live.Check(check)
	if !ok && s.live.HoldsAll() {
		return history.CheckRow{}, store.ErrNotFound
	}
	if !ok {
		return s.Store.Check(ctx, project, check)
	}
	if !listed(history.HeadOf(&row)) || row.State.ProjectID != project {
		return history.CheckRow{}, store.ErrNotFound
	}
	return row, nil
}

func (s liveStore) AwaitCheckVersion(ctx context.Context, project, check schemas.ID, version uint64) error {
	if held, err := s.live.AwaitWritten(ctx, check, version); held {
		return err
	}
	return s.Store.AwaitCheckVersion(ctx, project, check, version)
}

// AwaitRowsWritten waits for the rows of the checks folded here; the others came from
// ClickHouse.
func (s liveStore) AwaitRowsWritten(ctx context.Context, rows []history.CheckRow) error {
	for _, row := range rows {
		if _, err := s.live.AwaitWritten(ctx, row.State.CheckID, row.Version); err != nil {
			return err
		}
	}
	return nil
}

func (s liveStore) CheckProject(ctx context.Context, check schemas.ID) (schemas.ID, error) {
	row, ok := s.live.Check(check)
	if !ok && s.live.HoldsAll() {
		// Every check is live here: a miss needs no scan of the checks table.
		return schemas.ID{}, store.ErrNotFound
	}
	if !ok {
		return s.Store.CheckProject(ctx, check)
	}
	if !listed(history.HeadOf(&row)) {
		return schemas.ID{}, store.ErrNotFound
	}
	return row.State.ProjectID, nil
}

func (s liveStore) ProjectChanges(project schemas.ID, since history.ChangeCursor) (history.ProjectChanges, bool) {
	return s.live.ProjectChanges(project, since)
}

// Checks lists from memory alone when every partition is folded here: reading even the
// IDs and versions of ten thousand checks from ClickHouse was a third of a list's time,
// and more of its tail while ClickHouse merged. Memory is trusted exactly as Check
// trusts it; a projector that holds every partition is the only writer of their rows.
func (s liveStore) Checks(ctx context.Context, project schemas.ID) ([]history.CheckRow, error) {
	seq, ok := s.live.ProjectChecks(project)
	if !ok {
		return s.storedChecks(ctx, project)
	}
	var rows []history.CheckRow
	for lazy := range listedOnly(seq) {
		rows = append(rows, *lazy.Row())
	}
	return rows, nil
}

func listedOnly(seq iter.Seq[history.LazyRow]) iter.Seq[history.LazyRow] {
	return func(yield func(history.LazyRow) bool) {
		for row := range seq {
			if listed(row.Head()) && !yield(row) {
				return
			}
		}
	}
}

// storedChecks reads the project's checks from the store, each replaced by its live row
// where that is newer.
func (s liveStore) storedChecks(ctx context.Context, project schemas.ID) ([]history.CheckRow, error) {
	rows, err := s.Store.Checks(ctx, project)
	if err != nil {
		return nil, err
	}
	fresh := rows[:0]
	for _, row := range rows {
		if newer, ok := s.live.Check(row.State.CheckID); ok && newer.Version > row.Version {
			row = newer
		}
		if listed(history.HeadOf(&row)) {
			fresh = append(fresh, row)
		}
	}
	return fresh, nil
}

func eachRow(rows []history.CheckRow) iter.Seq[history.LazyRow] {
	return func(yield func(history.LazyRow) bool) {
		for i := range rows {
			if !yield(history.Loaded(&rows[i])) {
				return
			}
		}
	}
}

// listed is whether the API shows a check: it exists and is not deleted.
func listed(head history.RowHead) bool { return head.Exists && !head.Deleted }
