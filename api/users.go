package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// createUserRequest is the body of POST /users.
type createUserRequest struct {
	Name           string `json:"name"`
	Role           string `json:"role"`
	UnitID         string `json:"unit_id"`
	TokenExpiresAt string `json:"token_expires_at"`
}

// userJSON is a user as the API shows it.
type userJSON struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Role      workflow.Role `json:"role"`
	UnitID    string        `json:"unit_id"`
	Disabled  bool          `json:"disabled"`
	CreatedAt time.Time     `json:"created_at"`
}

func userOut(u *workflow.User) userJSON {
	return userJSON{ID: u.ID, Name: u.Name, Role: u.Role, UnitID: u.UnitID, Disabled: u.Disabled, CreatedAt: u.CreatedAt.UTC()}
}

// createUserResponse carries the new user's token, shown this once.
type createUserResponse struct {
	User  userJSON `json:"user"`
	Token string   `json:"token"`
}

func (s *server) createUser(c echo.Context) error {
	var req createUserRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	exp, err := parseExpiry(req.TokenExpiresAt)
	if err != nil {
		return err
	}
	u, token, err := s.svc.CreateUser(c.Request().Context(), actor(c), workflow.NewUser{
		Name: req.Name, Role: workflow.Role(req.Role), UnitID: req.UnitID, TokenExpiresAt: exp,
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusCreated, createUserResponse{
		User:  userOut(u),
		Token: token,
	})
}

func (s *server) listUnits(c echo.Context) error {
	units, err := s.svc.Units(c.Request().Context())
	if err != nil {
		return err
	}
	if units == nil {
		units = []workflow.Unit{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": units})
}
