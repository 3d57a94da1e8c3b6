package schemas

import (
	"fmt"
	"time"
)

// Event is one fact on the log. Every write in hcstream, from a ping to an API change,
// becomes exactly one Event keyed by its check (or its project, for project events).
type Event struct {
	// ID is assigned where the event enters the system and is the idempotency key
	// downstream: the same ID folded or written twice counts once.
	ID ID
	// ProjectID owns the check; for project events it is the project itself.
	ProjectID ID
	// CheckID is zero for project events.
	CheckID ID
	// At is the event time, stamped by ingest or the API when the request arrived.
	At time.Time
	// Body is one of the types in this package.
	Body Body
}

// Key returns the entity the event belongs to, used as the Kafka record key so that one
// partition orders all of a check's events.
func (e Event) Key() ID {
	if e.CheckID.IsZero() {
		return e.ProjectID
	}
	return e.CheckID
}

// Type identifies an event body on the wire. Values are frozen once shipped.
type Type uint8

// Event types. Never renumber: the number is written into every record.
const (
	TypeProjectCreated Type = 1
	TypeCheckCreated   Type = 2
	TypeCheckUpdated   Type = 3
	TypeCheckPaused    Type = 4
	TypeCheckResumed   Type = 5
	TypeCheckDeleted   Type = 6
	TypePingReceived   Type = 7
	TypeStatusChanged  Type = 8
	TypeClockTicked    Type = 9
)

var typeNames = map[Type]string{
	TypeProjectCreated: "ProjectCreated",
	TypeCheckCreated:   "CheckCreated",
	TypeCheckUpdated:   "CheckUpdated",
	TypeCheckPaused:    "CheckPaused",
	TypeCheckResumed:   "CheckResumed",
	TypeCheckDeleted:   "CheckDeleted",
	TypePingReceived:   "PingReceived",
	TypeStatusChanged:  "StatusChanged",
	TypeClockTicked:    "ClockTicked",
}

// String returns the type's name as used in the hc-type header and in golden-file paths.
func (t Type) String() string {
	if name, ok := typeNames[t]; ok {
		return name
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Body is the sealed set of event payloads: only this package can add to it, so the fold
// can switch over a closed set.
type Body interface {
	Type() Type
	sealed()
}

// ProjectCreated records a new project with its credentials. API keys are stored only as
// hashes; the ping key is not a secret in Healthchecks' model and is kept as is.
type ProjectCreated struct {
	Name               string `json:"name"`
	APIKeyHash         string `json:"api_key_hash"`
	APIKeyReadonlyHash string `json:"api_key_readonly_hash"`
	PingKey            string `json:"ping_key"`
}

// ScheduleKind says how a check's next expected ping is computed.
type ScheduleKind uint8

// Schedule kinds, as Healthchecks' Check.kind.
const (
	KindSimple     ScheduleKind = 0
	KindCron       ScheduleKind = 1
	KindOnCalendar ScheduleKind = 2
)

var scheduleKindNames = [...]string{"simple", "cron", "oncalendar"}

// String returns Healthchecks' name for the kind.
func (k ScheduleKind) String() string {
	if int(k) < len(scheduleKindNames) {
		return scheduleKindNames[k]
	}
	return fmt.Sprintf("ScheduleKind(%d)", uint8(k))
}

// CheckConfig is the full configuration of a check. Config events carry the whole
// snapshot rather than a diff, so applying one twice is harmless.
type CheckConfig struct {
	Name     string        `json:"name"`
	Slug     string        `json:"slug"`
	Tags     string        `json:"tags"`
	Desc     string        `json:"desc"`
	Kind     ScheduleKind  `json:"kind"`
	Timeout  time.Duration `json:"timeout_ns"`
	Grace    time.Duration `json:"grace_ns"`
	Schedule string        `json:"schedule"`
	TZ       string        `json:"tz"`
	// ManualResume keeps a paused check paused until the API resumes it.
	ManualResume bool `json:"manual_resume"`
	// Methods is "" (any method) or "POST" (other methods are recorded as ignored).
	Methods           string `json:"methods"`
	StartKeywords     string `json:"start_kw"`
	SuccessKeywords   string `json:"success_kw"`
	FailureKeywords   string `json:"failure_kw"`
	FilterSubject     bool   `json:"filter_subject"`
	FilterBody        bool   `json:"filter_body"`
	FilterHTTPBody    bool   `json:"filter_http_body"`
	FilterDefaultFail bool   `json:"filter_default_fail"`
	// Channels are the IDs of the notification channels assigned to the check.
	Channels []string `json:"channels"`
	// FailureThreshold is how many consecutive failed runs take the check down, and
	// RecoveryThreshold how many consecutive successful runs bring a down check back up.
	// 0 (every record before CheckConfig v2) means 1, Healthchecks' behaviour.
	FailureThreshold  uint16 `json:"failure_threshold,omitempty"`
	RecoveryThreshold uint16 `json:"recovery_threshold,omitempty"`
}

// MaxThreshold bounds FailureThreshold and RecoveryThreshold.
const MaxThreshold = 1000

// FailuresToAlert is how many consecutive failures take the check down.
func (c CheckConfig) FailuresToAlert() int { return max(1, int(c.FailureThreshold)) }

// SuccessesToRecover is how many consecutive successes bring a down check back up.
func (c CheckConfig) SuccessesToRecover() int { return max(1, int(c.RecoveryThreshold)) }

// CheckCreated records a new check.
type CheckCreated struct {
	Config CheckConfig `json:"config"`
}

// CheckUpdated replaces a check's configuration with a new full snapshot.
type CheckUpdated struct {
	Config CheckConfig `json:"config"`
}

// CheckPaused records a pause through the API.
type CheckPaused struct{}

// CheckResumed records a resume through the API.
type CheckResumed struct{}

// CheckDeleted records the deletion of a check; later events for it are ignored.
type CheckDeleted struct{}

// PingKind is what the ping URL said; the fold decides what it means for the check
// (keyword filters, methods and manual_resume can turn it into fail, start or ignored).
type PingKind uint8

// Ping kinds as named by the URL.
const (
	PingSuccess    PingKind = 0
	PingStart      PingKind = 1
	PingFail       PingKind = 2
	PingLog        PingKind = 3
	PingExitStatus PingKind = 4
)

var pingKindNames = [...]string{"success", "start", "fail", "log", "exitstatus"}

// String returns the kind's name.
func (k PingKind) String() string {
	if int(k) < len(pingKindNames) {
		return pingKindNames[k]
	}
	return fmt.Sprintf("PingKind(%d)", uint8(k))
}

// PingReceived records one HTTP ping, exactly as it arrived. Its event time is the
// received time.
type PingReceived struct {
	Kind PingKind `json:"kind"`
	// ExitStatus is meaningful when Kind is PingExitStatus: 0 succeeds, 1-255 fail.
	ExitStatus uint8 `json:"exit_status"`
	// RunID is the rid query parameter; HasRunID distinguishes "absent" from the nil UUID.
	RunID      ID     `json:"rid"`
	HasRunID   bool   `json:"has_rid"`
	Method     string `json:"method"`
	Scheme     string `json:"scheme"`
	RemoteAddr string `json:"remote_addr"`
	UserAgent  string `json:"user_agent"`
	// Body is the request body, already cut to the ping body limit.
	Body []byte `json:"body"`
}

// Status is a check's stored status. Healthchecks' "grace" and "started" are computed at
// read time and never stored.
type Status uint8

// Stored statuses.
const (
	StatusNew    Status = 0
	StatusUp     Status = 1
	StatusDown   Status = 2
	StatusPaused Status = 3
)

var statusNames = [...]string{"new", "up", "down", "paused"}

// String returns Healthchecks' name for the status.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// StatusChanged is a flip derived by the projector: the stored status of a check changed.
// Replaying the log yields the same FlipSeq for the same flip, so consumers deduplicate on
// (CheckID, FlipSeq).
type StatusChanged struct {
	FlipSeq uint64 `json:"flip_seq"`
	Old     Status `json:"old"`
	New     Status `json:"new"`
	// Reason is "" (a success or an API action), "fail" or "timeout", as Healthchecks.
	Reason string `json:"reason"`
}

// ClockTicked moves a partition's stream time to the event time when no other event
// does. Ingest writes one into every partition every second, so deadlines are judged by
// the time pings arrived: while ingest or Kafka is down, no tick arrives and no check
// goes down because of hcstream's own outage.
type ClockTicked struct{}

func (ClockTicked) Type() Type    { return TypeClockTicked }
func (ProjectCreated) Type() Type { return TypeProjectCreated }
func (CheckCreated) Type() Type   { return TypeCheckCreated }
func (CheckUpdated) Type() Type   { return TypeCheckUpdated }
func (CheckPaused) Type() Type    { return TypeCheckPaused }
func (CheckResumed) Type() Type   { return TypeCheckResumed }
func (CheckDeleted) Type() Type   { return TypeCheckDeleted }
func (PingReceived) Type() Type   { return TypePingReceived }
func (StatusChanged) Type() Type  { return TypeStatusChanged }

func (ClockTicked) sealed()    {}
func (ProjectCreated) sealed() {}
func (CheckCreated) sealed()   {}
func (CheckUpdated) sealed()   {}
func (CheckPaused) sealed()    {}
func (CheckResumed) sealed()   {}
func (CheckDeleted) sealed()   {}
func (PingReceived) sealed()   {}
func (StatusChanged) sealed()  {}
