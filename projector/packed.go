package projector

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
)

// packedRow is a check's row as the projector keeps it in memory: one immutable string
// of varints and length-prefixed strings. A million checks held as check.State took
// about 1 KB each (24-byte times, a string header per empty field, a run list sized for
// eight runs); packed, a check costs little more than its data. Unpacking borrows the
// strings from the packed one, so reading a check allocates only its lists.
//
// A packed row begins with the check's ID, which is how checkTable finds it. The
// format never leaves the process, so it carries no version: a restart rebuilds
// every row from ClickHouse.
type packedRow string

const (
	flagExists = 1 << iota
	flagDeleted
	flagLastStartHasRunID
	flagHasLastStartRunID
	flagManualResume
	flagFilterSubject
	flagFilterBody
	flagFilterHTTPBody
	flagFilterDefaultFail
)

func packRow(row history.CheckRow) packedRow {
	s := &row.State
	c := &s.Config
	var flags uint64
	for bit, set := range [...]bool{s.Exists, s.Deleted, s.LastStartHasRunID, s.LastStartRunID != schemas.ID{}, c.ManualResume,
		c.FilterSubject, c.FilterBody, c.FilterHTTPBody, c.FilterDefaultFail} {
		if set {
			flags |= 1 << bit
		}
	}
	b := make([]byte, 0, 96+len(c.Name)+len(c.Slug)+len(c.Tags)+len(c.Desc)+len(c.Schedule)+len(c.TZ))
	b = append(b, s.CheckID[:]...)
	b = binary.AppendUvarint(b, flags)
	b = append(b, byte(s.Status), byte(c.Kind))
	b = append(b, s.ProjectID[:]...)
	if flags&flagHasLastStartRunID != 0 {
		b = append(b, s.LastStartRunID[:]...)
	}
	b = binary.AppendUvarint(b, row.Version)
	b = appendTime(b, s.Created)
	b = appendTime(b, s.LastPing)
	b = appendTime(b, s.LastStart)
	for _, d := range [...]time.Duration{s.LastDuration, s.Held, c.Timeout, c.Grace} {
		b = binary.AppendVarint(b, int64(d))
	}
	b = binary.AppendUvarint(b, s.NPings)
	b = binary.AppendUvarint(b, s.FlipSeq)
	b = appendSparse(b, s)
	for _, str := range [...]string{c.Name, c.Slug, c.Tags, c.Desc, c.Schedule, c.TZ, c.Methods, c.StartKeywords, c.SuccessKeywords, c.FailureKeywords} {
		b = appendString(b, str)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Channels)))
	for _, ch := range c.Channels {
		b = appendString(b, ch)
	}
	b = binary.AppendUvarint(b, uint64(len(s.OpenRuns)))
	for _, r := range s.OpenRuns {
		has := byte(0)
		if r.HasRunID {
			has = 1
		}
		b = append(b, has)
		b = append(b, r.RunID[:]...)
		b = appendTime(b, r.Started)
	}
	return packedRow(b)
}

// checkID is the ID the row begins with.
func (p packedRow) checkID() schemas.ID {
	var id schemas.ID
	copy(id[:], p)
	return id
}

// hasCheckID reports whether the row begins with id. Comparing in place rather than
// through checkID saves a copy on every probe of a table lookup.
func (p packedRow) hasCheckID(id *schemas.ID) bool {
	return len(p) >= len(id) && string(p[:len(id)]) == string(id[:])
}

// projectID reads the project ID, which follows the check ID, the flags, the status
// and the kind.
func (p packedRow) projectID() schemas.ID {
	return p.header().project
}

// packedHeader is the start of a packed row: what a list needs to sort a check and to
// tell whether it must read the rest.
type packedHeader struct {
	head    history.RowHead
	project schemas.ID
}

// header reads the row up to its creation time.
func (p packedRow) header() packedHeader {
	r := rowReader{s: string(p)}
	var h packedHeader
	h.head.CheckID = r.id()
	flags := r.uvarint()
	h.head.Exists, h.head.Deleted = flags&flagExists != 0, flags&flagDeleted != 0
	r.byte()
	r.byte()
	h.project = r.id()
	if flags&flagHasLastStartRunID != 0 {
		r.id()
	}
	h.head.Version = r.uvarint()
	h.head.Created = history.CreationKey(r.time())
	return h
}

// appendTime writes the zero time as 0 and any other as its zigzagged nanoseconds + 1.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	n := t.UnixNano()
	return binary.AppendUvarint(b, uint64(n<<1^n>>63)+1)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// sparseFields are the small counters that are zero for most checks: the hour tally's
// counts (most hours of most checks hold only pings and successes), the threshold count
// and the thresholds. They are written as a bit mask of the non-zero ones, then those
// values; the most common come first so the mask usually takes one byte.
func sparseFields(s *check.State) [12]uint64 {
	t, c := &s.Tally, &s.Config
	return [12]uint64{uint64(t.Pings), uint64(t.Successes), uint64(t.Starts), uint64(t.Failures), uint64(t.Logs), uint64(t.Ignored),
		uint64(t.Runs), uint64(t.RunTotal), uint64(t.RunLongest), uint64(s.Streak), uint64(c.FailureThreshold), uint64(c.RecoveryThreshold)}
}

// appendSparse writes the tally's hour (in whole hours, as the tally starts on one),
// then the sparse fields.
func appendSparse(b []byte, s *check.State) []byte {
	hour := int64(0)
	if !s.Tally.Hour.IsZero() {
		h := s.Tally.Hour.Unix() / 3600
		hour = h<<1 ^ h>>63 + 1
	}
	b = binary.AppendUvarint(b, uint64(hour))
	fields := sparseFields(s)
	var present uint64
	for i, n := range fields {
		if n != 0 {
			present |= 1 << i
		}
	}
	b = binary.AppendUvarint(b, present)
	for _, n := range fields {
		if n != 0 {
			b = binary.AppendUvarint(b, n)
		}
	}
	return b
}

var errCorruptRow = errors.New("corrupt packed check row")

// unpack returns the row; it panics on a row packRow did not write, which cannot
// happen, rather than fold a check from garbage.
func (p packedRow) unpack() history.CheckRow {
	row, err := p.decode()
	if err != nil {
		panic(err)
	}
	return row
}

func (p packedRow) decode() (history.CheckRow, error) {
	r := rowReader{s: string(p)}
	var row history.CheckRow
	s := &row.State
	c := &s.Config
	s.CheckID = r.id()
	flags := r.uvarint()
	s.Exists, s.Deleted, s.LastStartHasRunID = flags&flagExists != 0, flags&flagDeleted != 0, flags&flagLastStartHasRunID != 0
	c.ManualResume, c.FilterSubject, c.FilterBody = flags&flagManualResume != 0, flags&flagFilterSubject != 0, flags&flagFilterBody != 0
	c.FilterHTTPBody, c.FilterDefaultFail = flags&flagFilterHTTPBody != 0, flags&flagFilterDefaultFail != 0
	s.Status, c.Kind = schemas.Status(r.byte()), schemas.ScheduleKind(r.byte())
	s.ProjectID = r.id()
	if flags&flagHasLastStartRunID != 0 {
		s.LastStartRunID = r.id()
	}
	row.Version = r.uvarint()
	s.Created, s.LastPing, s.LastStart = r.time(), r.time(), r.time()
	for _, d := range [...]*time.Duration{&s.LastDuration, &s.Held, &c.Timeout, &c.Grace} {
		*d = time.Duration(r.varint())
	}
	s.NPings, s.FlipSeq = r.uvarint(), r.uvarint()
	r.sparse(s)
	for _, str := range [...]*string{&c.Name, &c.Slug, &c.Tags, &c.Desc, &c.Schedule, &c.TZ, &c.Methods, &c.StartKeywords, &c.SuccessKeywords, &c.FailureKeywords} {
		*str = r.string()
	}
	if n := r.count(); n > 0 {
		c.Channels = make([]string, n)
		for i := range c.Channels {
			c.Channels[i] = r.string()
		}
	}
	if n := r.count(); n > 0 {
		s.OpenRuns = make([]check.Run, n)
		for i := range s.OpenRuns {
			s.OpenRuns[i].HasRunID = r.byte() == 1
			s.OpenRuns[i].RunID = r.id()
			s.OpenRuns[i].Started = r.time()
		}
	}
	if r.err != nil || len(r.s) != 0 {
		return history.CheckRow{}, errCorruptRow
	}
	return row, nil
}

// rowReader reads a packed row front to back; after the first short read every read
// returns zero and err is set.
type rowReader struct {
	s   string
	err error
}

func (r *rowReader) fail() { r.err, r.s = errCorruptRow, "" }

func (r *rowReader) byte() byte {
	if len(r.s) < 1 {
		r.fail()
		return 0
	}
	v := r.s[0]
	r.s = r.s[1:]
	return v
}

func (r *rowReader) uvarint() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		if len(r.s) == 0 {
			break
		}
		c := r.s[0]
		r.s = r.s[1:]
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	r.fail()
	return 0
}

func (r *rowReader) varint() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (r *rowReader) time() time.Time {
	u := r.uvarint()
	if u == 0 {
		return time.Time{}
	}
	u--
	return time.Unix(0, int64(u>>1)^-int64(u&1)).UTC()
}

func (r *rowReader) id() schemas.ID {
	var id schemas.ID
	if len(r.s) < len(id) {
		r.fail()
		return id
	}
	copy(id[:], r.s)
	r.s = r.s[len(id):]
	return id
}

// count reads a list length, bounded by what is left so a corrupt row cannot make a
// huge allocation.
func (r *rowReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.s)) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *rowReader) string() string {
	n := r.count()
	v := r.s[:n]
	r.s = r.s[n:]
	return v
}

func (r *rowReader) sparse(s *check.State) {
	if hour := r.uvarint(); hour != 0 {
		hour--
		s.Tally.Hour = time.Unix((int64(hour>>1)^-int64(hour&1))*3600, 0).UTC()
	}
	present := r.uvarint()
	var n [12]uint64
	if present>>len(n) != 0 {
		r.fail()
	}
	for i := range n {
		if present&(1<<i) != 0 {
			n[i] = r.uvarint()
		}
	}
	t, c := &s.Tally, &s.Config
	t.Pings, t.Successes, t.Starts, t.Failures, t.Logs, t.Ignored = uint32(n[0]), uint32(n[1]), uint32(n[2]), uint32(n[3]), uint32(n[4]), uint32(n[5])
	t.Runs, t.RunTotal, t.RunLongest = uint32(n[6]), time.Duration(n[7]), time.Duration(n[8])
	s.Streak, c.FailureThreshold, c.RecoveryThreshold = uint16(n[9]), uint16(n[10]), uint16(n[11])
}
