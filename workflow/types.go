package workflow

import (
	"slices"
	"time"
)

// State is a problem's place in the rectification workflow.
type State string

// States. Submitted is a substate of rectifying: a submitted problem is still
// being rectified, waiting on the inspector.
const (
	StateFound      State = "found"
	StateAssigned   State = "assigned"
	StateRectifying State = "rectifying"
	StateSubmitted  State = "submitted"
	StateVerified   State = "verified"
	StateClosed     State = "closed"
	// StateInNotice is a substate of verified: the write-off is published
	// for objections (公示) before the problem closes (notice.go).
	StateInNotice State = "in_notice"
)

// States lists every state in workflow order.
var States = []State{StateFound, StateAssigned, StateRectifying, StateSubmitted, StateVerified, StateInNotice, StateClosed}

// Valid reports whether s is a known state.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Trigger is a workflow command that may move a problem between states.
type Trigger string

// Triggers, in the order of the table of docs/design.md#states-and-who-fires-what.
const (
	TriggerAssign   Trigger = "assign"
	TriggerReassign Trigger = "reassign"
	TriggerDismiss  Trigger = "dismiss"
	TriggerAccept   Trigger = "accept"
	TriggerSubmit   Trigger = "submit"
	TriggerWithdraw Trigger = "withdraw"
	TriggerReject   Trigger = "reject"
	TriggerVerify   Trigger = "verify"
	TriggerClose    Trigger = "close"
	TriggerReopen   Trigger = "reopen"
	// TriggerEndNotice closes a problem whose notice ended with no open
	// objection (公示期满销号); TriggerUphold sends it back to rectifying on
	// an objection the bureau upholds (异议成立).
	TriggerEndNotice Trigger = "end_notice"
	TriggerUphold    Trigger = "uphold_objection"
)

// Triggers lists every trigger.
var Triggers = []Trigger{
	TriggerAssign, TriggerReassign, TriggerDismiss, TriggerAccept, TriggerSubmit,
	TriggerWithdraw, TriggerReject, TriggerVerify, TriggerClose, TriggerReopen,
	TriggerEndNotice, TriggerUphold,
}

// Valid reports whether t is a known trigger.
func (t Trigger) Valid() bool { return slices.Contains(Triggers, t) }

// Resolution says how a closed problem ended.
type Resolution string

// Resolutions of a closed problem; empty while it is open.
const (
	ResolutionNone      Resolution = ""
	ResolutionRectified Resolution = "rectified"
	ResolutionDismissed Resolution = "dismissed"
)

// Source is where a problem was disclosed (问题来源).
type Source string

// Sources.
const (
	SourceWarningFilm          Source = "warning_film"          // 警示片
	SourceCentralInspection    Source = "central_inspection"    // 中央生态环境保护督察
	SourceProvincialInspection Source = "provincial_inspection" // 省级生态环境保护督察
	SourceAudit                Source = "audit"                 // 审计
	SourceSelfInspection       Source = "self_inspection"       // 自查
	SourceOther                Source = "other"                 // 其他
)

// Sources lists every source.
var Sources = []Source{
	SourceWarningFilm, SourceCentralInspection, SourceProvincialInspection,
	SourceAudit, SourceSelfInspection, SourceOther,
}

// Valid reports whether s is a known source.
func (s Source) Valid() bool { return slices.Contains(Sources, s) }

// Role is what a user may do.
type Role string

// Roles.
const (
	RoleAdmin     Role = "admin"     // users, units, tokens
	RoleBureau    Role = "bureau"    // logs, assigns, dismisses, writes off
	RoleUnit      Role = "unit"      // a county, zone, department or company officer
	RoleInspector Role = "inspector" // verifies, rejects, signs off closures
	RoleViewer    Role = "viewer"    // read-only
	RoleSystem    Role = "system"    // the server itself (seed loader); never a user's role
	RolePublic    Role = "public"    // anyone, unsigned, objecting to a notice; never a user's role
)

// UserRoles lists the roles a user may hold.
var UserRoles = []Role{RoleAdmin, RoleBureau, RoleUnit, RoleInspector, RoleViewer}

// Valid reports whether r is a role a user may hold.
func (r Role) Valid() bool { return slices.Contains(UserRoles, r) }

// UnitKind classifies a unit.
type UnitKind string

// Unit kinds.
const (
	UnitCity       UnitKind = "city"       // the city itself (景德镇市), for city-wide problems
	UnitCounty     UnitKind = "county"     // 县（市、区）
	UnitZone       UnitKind = "zone"       // 高新区, 昌南新区
	UnitDepartment UnitKind = "department" // city departments (市直单位)
	UnitCompany    UnitKind = "company"    // state-owned companies
	UnitOffice     UnitKind = "office"     // the leading-group office
	UnitJudicial   UnitKind = "judicial"   // court, procuratorate
	UnitOther      UnitKind = "other"
)

// UnitKinds lists every unit kind.
var UnitKinds = []UnitKind{UnitCity, UnitCounty, UnitZone, UnitDepartment, UnitCompany, UnitOffice, UnitJudicial, UnitOther}

// Valid reports whether k is a known unit kind.
func (k UnitKind) Valid() bool { return slices.Contains(UnitKinds, k) }

// Unit is an organisation that leads, cooperates in or oversees rectification.
type Unit struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Kind   UnitKind `json:"kind"`
	Parent string   `json:"parent,omitempty"`
}

// Actor is whoever fires a command, as recorded in history.
type Actor struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Role   Role   `json:"role"`
	UnitID string `json:"unit_id"`
}

// User is a person (or service) who may call the API.
type User struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	UnitID    string    `json:"unit_id"`
	CreatedAt time.Time `json:"created_at"`
	Disabled  bool      `json:"disabled,omitempty"`
}

// Actor returns the user as an actor.
func (u *User) Actor() Actor {
	return Actor{ID: u.ID, Name: u.Name, Role: u.Role, UnitID: u.UnitID}
}

// Token is an API credential; only the SHA-256 of the secret is kept.
type Token struct {
	Hash      string    `json:"hash"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt, if set, is when the token stops working.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// TokenIDLen is the length of a token id: that many hex digits of its hash.
const TokenIDLen = 16

// ID names the token in lists, commands and the account log: the first 16
// hex digits of its hash (64 bits: unique among any user's tokens, and of
// no use to find the secret).
func (t Token) ID() string {
	if len(t.Hash) < TokenIDLen {
		return t.Hash
	}
	return t.Hash[:TokenIDLen]
}

// Expired reports whether the token has stopped working at now.
func (t Token) Expired(now time.Time) bool {
	return t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)
}

// WorkPoint is one numbered item (工作要点) of the city's annual work plan,
// with the units it charges as the plan words it: those that lead (牵头),
// those held responsible (负责) and those that cooperate (配合), and the
// groups it names without saying which units they are (UnitGroups).
type WorkPoint struct {
	Number           int         `json:"number"`
	Section          string      `json:"section"`
	Subsection       string      `json:"subsection,omitempty"`
	Title            string      `json:"title"`
	Text             string      `json:"text"`
	LeadUnits        []string    `json:"lead_units"`
	ResponsibleUnits []string    `json:"responsible_units,omitempty"`
	CooperatingUnits []string    `json:"cooperating_units,omitempty"`
	UnitGroups       []UnitGroup `json:"unit_groups,omitempty"`
	// Targets are the figures the point's text sets (28.91万亩营造林), which
	// its reports in dispatch rounds give figures against.
	Targets []Target `json:"targets,omitempty"`
}
