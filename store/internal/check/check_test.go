package check

import (
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

func TestRefusals(t *testing.T) {
	u := workflow.User{ID: "u1"}
	tok := workflow.Token{Hash: "h", UserID: "u1"}
	for _, c := range []struct {
		name   string
		err    error
		reason workflow.Reason
	}{
		{"user without id", NewUser(workflow.User{}, workflow.Token{Hash: "h"}), workflow.ReasonRequired},
		{"token of another user", NewUser(u, workflow.Token{Hash: "h", UserID: "u2"}), workflow.ReasonMalformed},
		{"token without hash", NewUser(u, workflow.Token{UserID: "u1"}), workflow.ReasonRequired},
		{"token without user", Token(workflow.Token{Hash: "h"}), workflow.ReasonUserNotFound},
		{"unit without id", Units([]workflow.Unit{{ID: "a"}, {Name: "无编号"}}), workflow.ReasonRequired},
		{"negative work point", WorkPoints([]workflow.WorkPoint{{Number: -1}}), workflow.ReasonOutOfRange},
		{"cursor without name", CursorName(""), workflow.ReasonRequired},
		{"long cursor name", CursorName(strings.Repeat("x", MaxCursorName+1)), workflow.ReasonTooLong},
		{"empty password hash", PasswordHash("u1", ""), workflow.ReasonRequired},
		{"password of nobody", PasswordHash("", "h"), workflow.ReasonUserNotFound},
		{"session without user", Session(workflow.Session{IDHash: "x"}), workflow.ReasonRequired},
	} {
		if workflow.ErrorReason(c.err) != c.reason || workflow.ErrorCode(c.err) != c.reason.Code() {
			t.Errorf("%s: %v; want reason %s", c.name, c.err, c.reason)
		}
	}
	for _, err := range []error{NewUser(u, tok), Token(tok), Units([]workflow.Unit{{ID: "a"}}), WorkPoints([]workflow.WorkPoint{{Number: 0}}),
		CursorName(strings.Repeat("x", MaxCursorName)), PasswordHash("u1", "h"), Session(workflow.Session{IDHash: "x", UserID: "u1"})} {
		if err != nil {
			t.Errorf("refused a valid record: %v", err)
		}
	}
}
