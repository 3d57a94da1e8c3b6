package schemas

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
)

// ID is a 16-byte identifier (a UUID) for events, checks, projects and run IDs.
type ID [16]byte

// ErrInvalidID is returned by ParseID for anything that is not a canonical UUID.
var ErrInvalidID = errors.New("invalid uuid format")

// NewID returns a random (version 4) UUID.
func NewID() ID {
	var id ID
	if _, err := rand.Read(id[:]); err != nil {
		// crypto/rand never fails on supported platforms; a zero ID would be worse than a crash.
		panic("reading crypto/rand: " + err.Error())
	}
	id[6] = (id[6] & 0x0f) | 0x40
	id[8] = (id[8] & 0x3f) | 0x80
	return id
}

// Generated reports whether id has the shape of an ID hcstream makes: an RFC 4122 UUID
// of version 4 (NewID) or 5 (NameID). Checks created through the API get the first,
// checks created by a ping with ?create=1 the second.
func (id ID) Generated() bool {
	version := id[6] >> 4
	return id[8]>>6 == 2 && (version == 4 || version == 5)
}

// IsZero reports whether id is the all-zero UUID, which hcstream uses for "absent".
func (id ID) IsZero() bool { return id == ID{} }

// String returns the canonical lowercase 8-4-4-4-12 form.
func (id ID) String() string {
	var buf [36]byte
	return string(id.Append(buf[:0]))
}

// Append appends the canonical form to b.
func (id ID) Append(b []byte) []byte {
	b = hex.AppendEncode(b, id[0:4])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[4:6])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[6:8])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[8:10])
	b = append(b, '-')
	return hex.AppendEncode(b, id[10:])
}

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	parsed, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = parsed
	return nil
}

// ParseID parses the 8-4-4-4-12 hexadecimal form in either case.
// Callers that must accept only lowercase (Healthchecks' URL converter) check that first.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, ErrInvalidID
	}
	groups := [...]struct{ from, to, at int }{{0, 8, 0}, {9, 13, 4}, {14, 18, 6}, {19, 23, 8}, {24, 36, 10}}
	for _, g := range groups {
		if _, err := hex.Decode(id[g.at:], []byte(s[g.from:g.to])); err != nil {
			return ID{}, ErrInvalidID
		}
	}
	return id, nil
}

// NameID derives a stable name-based (version 5 layout, SHA-1) ID from parts, so the
// same facts always get the same ID: an auto-provisioned check from its project and slug,
// a flip event from its check and sequence number.
func NameID(parts ...[]byte) ID {
	h := sha1.New()
	for _, p := range parts {
		h.Write(p)
	}
	var id ID
	copy(id[:], h.Sum(nil))
	id[6] = (id[6] & 0x0f) | 0x50
	id[8] = (id[8] & 0x3f) | 0x80
	return id
}
