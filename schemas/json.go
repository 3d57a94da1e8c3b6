package schemas

import (
	"encoding/json"
	"time"
)

// eventJSON is the JSON form of an Event, used by `hcstream events dump` and the golden
// files. It is for people and tests, not a wire format.
type eventJSON struct {
	ID        ID              `json:"id"`
	Type      string          `json:"type"`
	Version   uint8           `json:"version"`
	ProjectID ID              `json:"project_id"`
	CheckID   ID              `json:"check_id"`
	At        time.Time       `json:"at"`
	Body      json.RawMessage `json:"body"`
}

// MarshalJSON renders the event with its type name and current version.
func (e Event) MarshalJSON() ([]byte, error) {
	var version uint8
	if e.Body != nil {
		version = CurrentVersion(e.Body.Type())
	}
	return marshalEvent(e, version)
}

// MarshalRecord renders a binary record as JSON: its event as decoded today, with the
// version the record was written in, so an old record shows what it is.
func MarshalRecord(record []byte) ([]byte, error) {
	_, version, err := Peek(record)
	if err != nil {
		return nil, err
	}
	ev, err := Decode(record)
	if err != nil {
		return nil, err
	}
	return marshalEvent(ev, version)
}

func marshalEvent(e Event, version uint8) ([]byte, error) {
	out := eventJSON{ID: e.ID, ProjectID: e.ProjectID, CheckID: e.CheckID, At: e.At.UTC(), Version: version}
	if e.Body != nil {
		out.Type = e.Body.Type().String()
		body, err := json.Marshal(e.Body)
		if err != nil {
			return nil, err
		}
		out.Body = body
	}
	return json.Marshal(out)
}

// MarshalText renders the kind by name in JSON.
func (k ScheduleKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// MarshalText renders the kind by name in JSON.
func (k PingKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// MarshalText renders the status by name in JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
