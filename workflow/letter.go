package workflow

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Supervision letters (督办函): the bureau writes to one unit about one or
// more problems, with a document number taken when the letter is issued,
// and the unit replies by a due time. docs/design.md#supervision-letters
// describes the entity, its numbering and its keys in both stores.

// History actions of supervision letters, on each problem a letter names.
const (
	// ActionLetter records a letter issued about the problem.
	ActionLetter = "letter"
	// ActionLetterReply records the addressed unit's reply.
	ActionLetterReply = "letter_reply"
)

// AlertLetterReplyLate is the alert (an ActionAlert entry, Params.Level) of
// a letter with no reply by its reply due time: recorded once per letter,
// on each problem it names, against the addressed unit.
const AlertLetterReplyLate = "letter_reply_late"

// LetterKind is what a letter is: the three forms the office sends.
type LetterKind string

// Letter kinds, as the documents name them.
const (
	KindSupervision LetterKind = "督办函"
	KindReminder    LetterKind = "提醒函"
	KindInterview   LetterKind = "约谈通知"
)

// LetterKinds lists the kinds a letter may be.
var LetterKinds = []LetterKind{KindSupervision, KindReminder, KindInterview}

// Valid reports whether k is one of LetterKinds.
func (k LetterKind) Valid() bool { return slices.Contains(LetterKinds, k) }

// LetterState is where a letter stands.
type LetterState string

// Letter states: a draft the scanner prepared (no number yet), an issued
// letter awaiting its reply, a replied letter, a discarded draft.
const (
	LetterDraft     LetterState = "draft"
	LetterIssued    LetterState = "issued"
	LetterReplied   LetterState = "replied"
	LetterDiscarded LetterState = "discarded"
)

// LetterStates lists the states of letters.
var LetterStates = []LetterState{LetterDraft, LetterIssued, LetterReplied, LetterDiscarded}

// Valid reports whether s is one of LetterStates.
func (s LetterState) Valid() bool { return slices.Contains(LetterStates, s) }

// Letter is one supervision letter. Its number (Year, Number, DocNo) is
// taken when it is issued, in the transaction that writes it: numbers of a
// year run 1, 2, … without gaps or repeats; drafts have none.
type Letter struct {
	ID         string      `json:"id"` // "1", "2", … in creation order, drafts included
	State      LetterState `json:"state"`
	Kind       LetterKind  `json:"kind"`
	ToUnit     string      `json:"to_unit"`
	ProblemIDs []string    `json:"problem_ids"`
	Demands    string      `json:"demands,omitempty"`
	ReplyDue   *time.Time  `json:"reply_due,omitempty"`
	// Year (Asia/Shanghai, of the issue) and Number within it; DocNo is
	// the document number as printed (景长江办督〔2026〕7号).
	Year   int    `json:"year,omitempty"`
	Number int    `json:"number,omitempty"`
	DocNo  string `json:"doc_no,omitempty"`
	// Key is a draft's key (draft/<problem id>/<level>): a store keeps at
	// most one letter per key, so the scanner prepares each draft once.
	Key string `json:"key,omitempty"`
	// Level is the supervision level that prepared a draft (red, listed).
	Level       Level      `json:"level,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   Actor      `json:"created_by"`
	IssuedAt    *time.Time `json:"issued_at,omitempty"`
	IssuedBy    *Actor     `json:"issued_by,omitempty"`
	DiscardedAt *time.Time `json:"discarded_at,omitempty"`
	DiscardedBy *Actor     `json:"discarded_by,omitempty"`
	Reply       *Reply     `json:"reply,omitempty"`
	// Recorded is set once every problem the letter names has its letter
	// entry, ReplyRecorded once every one has its letter_reply entry,
	// LateAlertedAt once every one has its letter_reply_late alert.
	Recorded      bool       `json:"recorded,omitempty"`
	ReplyRecorded bool       `json:"reply_recorded,omitempty"`
	LateAlertedAt *time.Time `json:"late_alerted_at,omitempty"`
}

// Reply is the addressed unit's reply to a letter.
type Reply struct {
	Text string    `json:"text"`
	At   time.Time `json:"at"`
	By   Actor     `json:"by"`
	// Evidence lists files (SHA-256) among the evidence of the letter's
	// problems that the reply points to.
	Evidence []string `json:"evidence,omitempty"`
	// Late is set on a reply after the reply due time.
	Late bool `json:"late,omitempty"`
}

// Clone returns a deep copy of l.
func (l *Letter) Clone() *Letter {
	c := *l
	c.ProblemIDs = slices.Clone(l.ProblemIDs)
	c.ReplyDue = clonePtr(l.ReplyDue)
	c.IssuedAt = clonePtr(l.IssuedAt)
	c.IssuedBy = clonePtr(l.IssuedBy)
	c.DiscardedAt = clonePtr(l.DiscardedAt)
	c.DiscardedBy = clonePtr(l.DiscardedBy)
	c.LateAlertedAt = clonePtr(l.LateAlertedAt)
	if l.Reply != nil {
		r := *l.Reply
		r.Evidence = slices.Clone(l.Reply.Evidence)
		c.Reply = &r
	}
	return &c
}

// ParseLetterID returns the number of letter id; ok is false when id is
// not one rectify issued.
func ParseLetterID(id string) (n uint64, ok bool) { return ParseProblemID(id) }

// LetterID returns the id of letter number n.
func LetterID(n uint64) string { return ProblemID(n) }

// Letters is a store that keeps supervision letters
// (docs/design.md#supervision-letters). Without it the service refuses
// letters. A missing letter is an *Error with ReasonLetterNotFound.
type Letters interface {
	// CreateLetter allocates the next letter id and, when year is not 0,
	// the next number of that year (the last number written for year plus
	// one; 1 for the first), and calls build with both (number 0 when year
	// is 0); the letter build returns is written, with the year's counter
	// when it took a number, in one transaction. If key is not empty and a
	// letter was created with it, that letter is returned with created false
	// and nothing is written. An error from build is returned as is.
	CreateLetter(ctx context.Context, key string, year int, build func(id string, number int) (*Letter, error)) (l *Letter, created bool, err error)
	// UpdateLetter reads letter id and calls apply with a copy and, when year
	// is not 0, the next number of that year; if apply succeeds the letter is
	// written, and the year's counter if the letter now has that number, in
	// one transaction. An error from apply writes nothing and is returned as
	// is.
	UpdateLetter(ctx context.Context, id string, year int, apply func(l *Letter, number int) error) (*Letter, error)
	// Letter returns letter id.
	Letter(ctx context.Context, id string) (*Letter, error)
	// Letters returns every letter in creation order.
	Letters(ctx context.Context) ([]*Letter, error)
}

// LetterConfig is how letters are numbered and signed.
type LetterConfig struct {
	// NumberFormat is the document number with {year} and {n} in it.
	NumberFormat string
	// Office is the issuing office as printed on the letter.
	Office string
}

// Default letter configuration.
const (
	DefaultLetterNumberFormat = "景长江办督〔{year}〕{n}号"
	DefaultLetterOffice       = "景德镇市推动长江经济带发展领导小组办公室"
)

// DocNumber formats number n of year with format.
func DocNumber(format string, year, n int) string {
	return strings.NewReplacer("{year}", strconv.Itoa(year), "{n}", strconv.Itoa(n)).Replace(format)
}

// Validate refuses a format without {n} (numbers would repeat) or an empty
// office.
func (c LetterConfig) Validate() error {
	switch {
	case !strings.Contains(c.NumberFormat, "{n}"):
		return RefuseField(ReasonBadConfig, "letter_number_format", "the letter number format %q has no {n}", c.NumberFormat)
	case !strings.Contains(c.NumberFormat, "{year}"):
		return RefuseField(ReasonBadConfig, "letter_number_format", "the letter number format %q has no {year}: numbers restart each year", c.NumberFormat)
	case strings.TrimSpace(c.Office) == "":
		return RefuseField(ReasonBadConfig, "letter_office", "the issuing office is empty")
	}
	return nil
}

// LetterRef returns the letter a history entry names: a letter, a reply or
// a letter_reply_late alert; ok is false for every other entry.
func LetterRef(e *Entry) (string, bool) {
	if e.Params.Letter == "" {
		return "", false
	}
	switch {
	case e.Action == ActionLetter, e.Action == ActionLetterReply,
		e.Action == ActionAlert && e.Params.Level == AlertLetterReplyLate:
		return e.Params.Letter, true
	}
	return "", false
}

// LetterMark is a letter as a problem's record keeps it: issued about the
// problem (its letter entry), replied (its letter_reply entry), alerted
// (its letter_reply_late alert). Commands decide from it that each entry
// is written once.
type LetterMark struct {
	ID          string `json:"id"`
	DocNo       string `json:"doc_no,omitempty"`
	Replied     bool   `json:"replied,omitempty"`
	LateAlerted bool   `json:"late_alerted,omitempty"`
}

// letterMark returns p's mark of letter id, or nil.
func (p *Problem) letterMark(id string) *LetterMark {
	for i := range p.Letters {
		if p.Letters[i].ID == id {
			return &p.Letters[i]
		}
	}
	return nil
}

// applyLetter records on p what a letter entry says.
func applyLetter(p *Problem, e *Entry) {
	id, ok := LetterRef(e)
	if !ok {
		return
	}
	m := p.letterMark(id)
	if m == nil {
		p.Letters = append(p.Letters, LetterMark{ID: id, DocNo: e.Params.DocNo})
		m = &p.Letters[len(p.Letters)-1]
	}
	switch e.Action {
	case ActionLetterReply:
		m.Replied = true
	case ActionAlert:
		m.LateAlerted = true
	}
}
