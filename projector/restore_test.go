package projector

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
)

// fakeLoader serves check rows by partition and records each read.
type fakeLoader struct {
	rows      []history.CheckRow
	fail      error
	reads     [][]int
	hourReads map[int]time.Time
}

func (f *fakeLoader) LoadPartitions(_ context.Context, partitions []int, each func(history.CheckRow)) error {
	f.reads = append(f.reads, slices.Clone(partitions))
	if f.fail != nil {
		return f.fail
	}
	for _, row := range f.rows {
		if slices.Contains(partitions, row.Partition) {
			each(row)
		}
	}
	return nil
}

func (f *fakeLoader) LoadProjectHours(_ context.Context, partition int, since time.Time) ([]history.ProjectHour, error) {
	f.hourReads[partition] = since
	return nil, nil
}

func TestRestorerReadsTheSetOnce(t *testing.T) {
	hour := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	loader := &fakeLoader{hourReads: map[int]time.Time{}}
	for i := range 9 {
		s := sampleCheck(schemas.ID{1}, i)
		s.Tally = check.HourTally{Hour: hour.Add(time.Duration(i%3) * time.Hour), Pings: 1}
		loader.rows = append(loader.rows, history.CheckRow{Partition: i % 3, Version: uint64(i + 1), State: s})
	}
	proj, err := New(Config{Brokers: []string{"unused:9092"}}, slog.New(slog.DiscardHandler), nil, nil, loader, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	states := newRestorer([]int{0, 1, 2})

	loader.fail = errors.New("ClickHouse is down")
	if _, err := states.take(t.Context(), proj, 1); err == nil {
		t.Fatal("a failed read restored a state")
	}
	loader.fail = nil
	for _, partition := range []int{1, 0, 2} {
		st, err := states.take(t.Context(), proj, partition)
		if err != nil {
			t.Fatal(err)
		}
		if st.partition != partition || st.checks.len() != 3 || st.deadlines.Len() != 3 {
			t.Errorf("partition %d: state of %d with %d checks, %d deadlines; want its own 3", partition, st.partition, st.checks.len(), st.deadlines.Len())
		}
		if want := hour.Add(time.Duration(partition-1) * time.Hour); !loader.hourReads[partition].Equal(want) {
			t.Errorf("partition %d: project hours read from %v, want an hour before its latest tally, %v", partition, loader.hourReads[partition], want)
		}
	}
	if want := [][]int{{0, 1, 2}, {0, 1, 2}}; !slices.EqualFunc(loader.reads, want, slices.Equal) {
		t.Errorf("reads %v, want the whole set once more after the failure, and nothing per partition: %v", loader.reads, want)
	}
	// A partition outside the set, or taken again, is read alone.
	if _, err := states.take(t.Context(), proj, 1); err != nil {
		t.Fatal(err)
	}
	if last := loader.reads[len(loader.reads)-1]; !slices.Equal(last, []int{1}) {
		t.Errorf("taking partition 1 again read %v, want [1]", last)
	}
}
