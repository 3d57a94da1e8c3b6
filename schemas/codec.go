package schemas

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Record layout (every version of every type):
//
//	byte 0     envelope format (envelopeFormat)
//	byte 1     Type
//	byte 2     body version
//	16 bytes   event ID
//	16 bytes   project ID
//	16 bytes   check ID
//	8 bytes    event time, Unix nanoseconds, big endian
//	...        body, encoded by the (Type, version) codec
//
// The value carries its own type and version so it stands alone in a dead-letter topic or
// a file; the Kafka headers repeat them for tools that route without decoding.
const (
	envelopeFormat = 1
	headerSize     = 3 + 16*3 + 8
)

var (
	// ErrCorrupt marks a record that cannot be decoded by any reader: it belongs in a
	// dead-letter topic, and the partition continues.
	ErrCorrupt = errors.New("corrupt event record")
	// ErrUnknownVersion marks a record written by a newer producer than this reader knows:
	// the partition must stop until the readers are upgraded.
	ErrUnknownVersion = errors.New("unknown event type or version")
)

type codecKey struct {
	typ     Type
	version uint8
}

type bodyCodec struct {
	encode func(w *writer, b Body)
	// decode reads one body and upcasts it to the latest in-memory type.
	decode func(r *reader) Body
}

// codecs holds every shipped (type, version). Entries are never removed.
var codecs = map[codecKey]bodyCodec{}

// currentVersions is the version each type is written with.
var currentVersions = map[Type]uint8{}

func register(t Type, version uint8, c bodyCodec) {
	codecs[codecKey{t, version}] = c
	if version > currentVersions[t] {
		currentVersions[t] = version
	}
}

// CurrentVersion returns the version Encode writes for t.
func CurrentVersion(t Type) uint8 { return currentVersions[t] }

// Encode returns the binary record for ev in the current version of its type.
func Encode(ev Event) ([]byte, error) { return AppendEncode(nil, ev) }

// AppendEncode appends the record for ev to dst.
func AppendEncode(dst []byte, ev Event) ([]byte, error) {
	if ev.Body == nil {
		return dst, errors.New("encoding event: no body")
	}
	t := ev.Body.Type()
	v := currentVersions[t]
	c, ok := codecs[codecKey{t, v}]
	if !ok {
		return dst, fmt.Errorf("encoding %s: %w", t, ErrUnknownVersion)
	}
	w := writer{buf: dst}
	w.buf = append(w.buf, envelopeFormat, byte(t), v)
	w.buf = append(w.buf, ev.ID[:]...)
	w.buf = append(w.buf, ev.ProjectID[:]...)
	w.buf = append(w.buf, ev.CheckID[:]...)
	w.buf = binary.BigEndian.AppendUint64(w.buf, uint64(ev.At.UnixNano()))
	c.encode(&w, ev.Body)
	return w.buf, nil
}

// Peek returns the type and body version of a record without decoding it.
func Peek(b []byte) (Type, uint8, error) {
	if len(b) < 3 {
		return 0, 0, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != envelopeFormat {
		return 0, 0, fmt.Errorf("envelope format %d: %w", b[0], ErrUnknownVersion)
	}
	return Type(b[1]), b[2], nil
}

// Decode reads a record of any shipped version and returns it upcast to the latest types.
func Decode(b []byte) (Event, error) {
	t, v, err := Peek(b)
	if err != nil {
		return Event{}, err
	}
	c, ok := codecs[codecKey{t, v}]
	if !ok {
		return Event{}, fmt.Errorf("decoding %s v%d: %w", t, v, ErrUnknownVersion)
	}
	if len(b) < headerSize {
		return Event{}, fmt.Errorf("decoding %s v%d: %w: short header", t, v, ErrCorrupt)
	}
	var ev Event
	copy(ev.ID[:], b[3:19])
	copy(ev.ProjectID[:], b[19:35])
	copy(ev.CheckID[:], b[35:51])
	ev.At = time.Unix(0, int64(binary.BigEndian.Uint64(b[51:59]))).UTC()
	r := reader{buf: b[headerSize:]}
	ev.Body = c.decode(&r)
	if r.err == nil && len(r.buf) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.buf))
	}
	if r.err != nil {
		return Event{}, fmt.Errorf("decoding %s v%d: %w: %v", t, v, ErrCorrupt, r.err)
	}
	return ev, nil
}

type writer struct{ buf []byte }

func (w *writer) uvarint(v uint64) { w.buf = binary.AppendUvarint(w.buf, v) }
func (w *writer) varint(v int64)   { w.buf = binary.AppendVarint(w.buf, v) }
func (w *writer) byte(v byte)      { w.buf = append(w.buf, v) }
func (w *writer) id(v ID)          { w.buf = append(w.buf, v[:]...) }

func (w *writer) bool(v bool) {
	if v {
		w.buf = append(w.buf, 1)
	} else {
		w.buf = append(w.buf, 0)
	}
}

func (w *writer) string(s string) {
	w.uvarint(uint64(len(s)))
	w.buf = append(w.buf, s...)
}

func (w *writer) bytes(b []byte) {
	w.uvarint(uint64(len(b)))
	w.buf = append(w.buf, b...)
}

// reader decodes fields in order and remembers the first error, so codecs read like the
// layout they implement and check once at the end.
type reader struct {
	buf []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
	r.buf = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.buf)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.buf) < 1 {
		r.fail("unexpected end of record")
		return 0
	}
	v := r.buf[0]
	r.buf = r.buf[1:]
	return v
}

func (r *reader) bool() bool {
	switch b := r.byte(); b {
	case 0:
		return false
	case 1:
		return true
	default:
		r.fail("bad bool %d", b)
		return false
	}
}

func (r *reader) id() ID {
	var v ID
	if len(r.buf) < len(v) {
		r.fail("unexpected end of record")
		return v
	}
	copy(v[:], r.buf)
	r.buf = r.buf[len(v):]
	return v
}

// take returns the next length-prefixed field without copying; the length is checked
// against what is left, so a corrupt length cannot allocate without bound.
func (r *reader) take() []byte {
	n := r.uvarint()
	if n > uint64(len(r.buf)) {
		r.fail("length %d exceeds remaining %d bytes", n, len(r.buf))
		return nil
	}
	v := r.buf[:n]
	r.buf = r.buf[n:]
	return v
}

func (r *reader) string() string { return string(r.take()) }

func (r *reader) bytes() []byte {
	b := r.take()
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

func (r *reader) duration() time.Duration { return time.Duration(r.varint()) * time.Second }

func (w *writer) duration(d time.Duration) { w.varint(int64(d / time.Second)) }
