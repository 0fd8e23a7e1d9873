package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// Reminders' contacts and delivery log (admins only; docs/design.md#reminders).

// contactList is the body of GET /admin/contacts.
type contactList struct {
	Items []workflow.ContactView `json:"items"`
}

// deliveryList is the body of GET /admin/deliveries.
type deliveryList struct {
	Items []workflow.Notice `json:"items"`
}

// userEmailRequest is the body of PUT /users/{id}/email.
type userEmailRequest struct {
	Email string `json:"email"`
}

// listContacts serves GET /admin/contacts.
func (s *server) listContacts(c echo.Context) error {
	cs, err := s.svc.Contacts(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, contactList{Items: cs})
}

// setUnitContact serves PUT /units/{id}/contact: the unit's robots; a
// field left out is kept, an empty one cleared.
func (s *server) setUnitContact(c echo.Context) error {
	var req workflow.UnitContactInput
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	v, err := s.svc.SetUnitContact(c.Request().Context(), actor(c), c.Param("id"), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// setUserEmail serves PUT /users/{id}/email ("" clears it).
func (s *server) setUserEmail(c echo.Context) error {
	var req userEmailRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	v, err := s.svc.SetUserEmail(c.Request().Context(), actor(c), c.Param("id"), req.Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// listDeliveries serves GET /admin/deliveries?limit=: the newest notices.
func (s *server) listDeliveries(c echo.Context) error {
	limit := 0
	if q := c.QueryParam("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 {
			return workflow.RefuseField(workflow.ReasonMalformed, "limit", "limit must be a positive number")
		}
		limit = n
	}
	ns, err := s.svc.Deliveries(c.Request().Context(), actor(c), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, deliveryList{Items: ns})
}
