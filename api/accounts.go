package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api/web"
	"github.com/jdz-eco/rectify/workflow"
)

// The account lifecycle under /users (admins; the domain decides who):
// users listed, disabled and enabled, their passwords reset, their tokens
// listed, issued, revoked and rotated; and the account log under
// /audit/accounts. A token's secret appears once, in the answer that
// issues it (Cache-Control: no-store); lists name tokens by id.

// tokenJSON is a token as the API lists it: never its secret or hash.
type tokenJSON struct {
	ID        string     `json:"id"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	Expired   bool       `json:"expired"`
}

func (s *server) tokenOut(t workflow.Token) tokenJSON {
	return tokenJSON{ID: t.ID(), CreatedAt: t.CreatedAt.UTC(), ExpiresAt: utcPtr(t.ExpiresAt), Expired: t.Expired(s.svc.Clock().Now())}
}

// issuedToken is the answer of an issue or a rotation.
type issuedToken struct {
	Token   string    `json:"token"`
	Item    tokenJSON `json:"item"`
	Revoked string    `json:"revoked,omitempty"`
}

// expiryRequest is the optional body of POST /users/{id}/tokens and of a
// rotation.
type expiryRequest struct {
	ExpiresAt string `json:"expires_at"`
}

// decodeOptional decodes the request body into v, if there is one.
func decodeOptional(c echo.Context, v any) error {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return apiError(workflow.CodeInvalid, "", "cannot read the request body")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return decodeStrict(b, v)
}

// parseExpiry reads expires_at: "" for none, else a date (the end of that
// day in Asia/Shanghai) or an RFC 3339 time.
func parseExpiry(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := workflow.ParseDeadline(s)
	if err != nil {
		return nil, workflow.RefuseField(workflow.ReasonBadDate, "expires_at", "expires_at must be a date (2026-12-31) or an RFC 3339 time")
	}
	return &t, nil
}

func (s *server) listUsers(c echo.Context) error {
	users, err := s.svc.ListUsers(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	out := make([]userJSON, len(users))
	for i := range users {
		out[i] = userOut(&users[i])
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}

func (s *server) getUser(c echo.Context) error {
	u, err := s.svc.GetUser(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, userOut(u))
}

// setDisabled serves POST /users/{id}/disable and /enable.
func (s *server) setDisabled(disabled bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, err := s.svc.SetUserDisabled(c.Request().Context(), actor(c), c.Param("id"), disabled)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, userOut(u))
	}
}

// passwordRequest is the body of PUT /users/{id}/password.
type passwordRequest struct {
	Password     string `json:"password"`
	RevokeTokens bool   `json:"revoke_tokens"`
}

// resetPassword serves PUT /users/{id}/password: an admin sets a user's web
// password (its sessions end), and with revoke_tokens revokes every token
// of the user. The caller's right is checked before the password is hashed.
func (s *server) resetPassword(c echo.Context) error {
	if err := workflow.CanManageAccounts(actor(c)); err != nil {
		return err
	}
	var req passwordRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(req.Password); !utf8.ValidString(req.Password) || n < web.MinPassword || n > web.MaxPassword {
		return workflow.RefuseField(workflow.ReasonMalformed, "password", "password must be valid text of %d to %d characters", web.MinPassword, web.MaxPassword)
	}
	hash, err := web.HashPassword(req.Password)
	if err != nil {
		return err
	}
	revoked, err := s.svc.ResetPassword(c.Request().Context(), actor(c), c.Param("id"), workflow.PasswordChange{Hash: hash, RevokeTokens: req.RevokeTokens})
	if err != nil {
		return err
	}
	if revoked == nil {
		revoked = []string{}
	}
	return c.JSON(http.StatusOK, map[string]any{"revoked": revoked})
}

func (s *server) listTokens(c echo.Context) error {
	tokens, err := s.svc.UserTokens(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	out := make([]tokenJSON, len(tokens))
	for i, t := range tokens {
		out[i] = s.tokenOut(t)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}

// bodyExpiry reads the optional {"expires_at"} body of an issue or a
// rotation.
func bodyExpiry(c echo.Context) (*time.Time, error) {
	var req expiryRequest
	if err := decodeOptional(c, &req); err != nil {
		return nil, err
	}
	return parseExpiry(req.ExpiresAt)
}

func (s *server) issueToken(c echo.Context) error {
	exp, err := bodyExpiry(c)
	if err != nil {
		return err
	}
	secret, t, err := s.svc.IssueUserToken(c.Request().Context(), actor(c), c.Param("id"), exp)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusCreated, issuedToken{Token: secret, Item: s.tokenOut(*t)})
}

func (s *server) rotateToken(c echo.Context) error {
	exp, err := bodyExpiry(c)
	if err != nil {
		return err
	}
	secret, t, err := s.svc.RotateToken(c.Request().Context(), actor(c), c.Param("id"), c.Param("token_id"), exp)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusCreated, issuedToken{Token: secret, Item: s.tokenOut(*t), Revoked: c.Param("token_id")})
}

// revokeTokens serves DELETE /users/{id}/tokens: every token of the user.
func (s *server) revokeTokens(c echo.Context) error {
	revoked, err := s.svc.RevokeTokens(c.Request().Context(), actor(c), c.Param("id"), nil)
	if err != nil {
		return err
	}
	if revoked == nil {
		revoked = []string{}
	}
	return c.JSON(http.StatusOK, map[string]any{"revoked": revoked})
}

// revokeToken serves DELETE /users/{id}/tokens/{token_id}.
func (s *server) revokeToken(c echo.Context) error {
	if _, err := s.svc.RevokeTokens(c.Request().Context(), actor(c), c.Param("id"), []string{c.Param("token_id")}); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// accountEventList is the body of GET /audit/accounts.
type accountEventList struct {
	Items     []workflow.AccountEvent `json:"items"`
	NextAfter uint64                  `json:"next_after"`
}

// listAccountEvents serves GET /audit/accounts?after=SEQ&limit=N: the
// account log, as stored (each event with its hashes).
func (s *server) listAccountEvents(c echo.Context) error {
	after, limit, err := pageQuery(c)
	if err != nil {
		return err
	}
	evs, err := s.svc.AccountEvents(c.Request().Context(), actor(c), after, limit)
	if err != nil {
		return err
	}
	out := accountEventList{Items: evs, NextAfter: after}
	if len(evs) > 0 {
		out.NextAfter = evs[len(evs)-1].Seq
	}
	return c.JSON(http.StatusOK, out)
}
