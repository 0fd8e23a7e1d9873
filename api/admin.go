package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// auditHead is the body of GET /audit/head: the newest entry of the
// ledger's hash chain. At is null while the ledger is empty.
type auditHead struct {
	Seq  uint64     `json:"seq"`
	Hash string     `json:"hash"`
	At   *time.Time `json:"at"`
	// Accounts is the head of the account log, recorded beside the
	// history's.
	Accounts *auditHead `json:"accounts,omitempty"`
}

func headOut(h workflow.ChainHead) *auditHead {
	out := &auditHead{Seq: h.Seq, Hash: h.Hash}
	if !h.At.IsZero() {
		out.At = utcPtr(&h.At)
	}
	return out
}

// getAuditHead serves GET /audit/head, for the bureau to record elsewhere
// (rectify audit verify --expect-head SEQ:HASH proves the history up to it
// untouched). Unit officers, who see only part of the ledger, get 403.
func (s *server) getAuditHead(c echo.Context) error {
	h, err := s.svc.AuditHead(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	ah, err := s.svc.AccountHead(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	out := headOut(h)
	out.Accounts = headOut(ah)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusOK, out)
}

// backupWriteWindow is how long a backup may take to reach the client; it
// replaces the server's WriteTimeout for that response. It stays finite: the
// snapshot holds a read transaction open while it streams.
const backupWriteWindow = 30 * time.Minute

// backup serves GET /admin/backup (admins): a consistent snapshot of the
// live database, streamed as it is read. The role is checked before anything
// is written; a failure before the first byte is an ordinary error response,
// one after it aborts the connection so that the client cannot take a
// truncated file for a whole one.
func (s *server) backup(c echo.Context) error {
	a := actor(c)
	if err := workflow.CanBackup(a); err != nil {
		return err
	}
	_ = http.NewResponseController(c.Response()).SetWriteDeadline(time.Now().Add(backupWriteWindow))
	name := "rectify-" + s.svc.Clock().Now().UTC().Format("20060102T150405Z") + s.svc.BackupExtension()
	w := &startOnWrite{c: c, start: func(h http.Header) {
		h.Set(echo.HeaderContentType, echo.MIMEOctetStream)
		h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
		h.Set(echo.HeaderCacheControl, "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
	}}
	ctx := c.Request().Context()
	n, err := s.svc.Backup(ctx, a, w)
	if err != nil {
		if !w.started {
			return err
		}
		s.log.ErrorContext(ctx, "backup failed while streaming", "written", n, "err", err, "request_id", requestIDOf(c))
		panic(http.ErrAbortHandler)
	}
	w.begin()
	return nil
}

// startOnWrite writes the response header of a stream with its first byte,
// so that an error before it can still be answered properly.
type startOnWrite struct {
	c       echo.Context
	start   func(http.Header)
	started bool
}

func (w *startOnWrite) begin() {
	if !w.started {
		w.started = true
		w.start(w.c.Response().Header())
		w.c.Response().WriteHeader(http.StatusOK)
	}
}

func (w *startOnWrite) Write(p []byte) (int, error) {
	w.begin()
	return w.c.Response().Write(p)
}

// Flush sends what is written so far to the client.
func (w *startOnWrite) Flush() {
	if w.started {
		w.c.Response().Flush()
	}
}
