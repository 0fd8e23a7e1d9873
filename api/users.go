package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// createUserRequest is the body of POST /users.
type createUserRequest struct {
	Name   string `json:"name"`
	Role   string `json:"role"`
	UnitID string `json:"unit_id"`
}

// userJSON is a user as the API shows it.
type userJSON struct {
	ID     string        `json:"id"`
	Name   string        `json:"name"`
	Role   workflow.Role `json:"role"`
	UnitID string        `json:"unit_id"`
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
	u, token, err := s.svc.CreateUser(c.Request().Context(), actor(c), workflow.NewUser{
		Name: req.Name, Role: workflow.Role(req.Role), UnitID: req.UnitID,
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusCreated, createUserResponse{
		User:  userJSON{ID: u.ID, Name: u.Name, Role: u.Role, UnitID: u.UnitID},
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
