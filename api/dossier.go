package api

import (
	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api/files"
)

// getDossier streams problem id's case file (一案一档) as a zip: whoever may
// see the problem may have it; a problem the caller cannot see is not
// found.
func (s *server) getDossier(c echo.Context) error {
	return files.ServeDossier(c.Response(), c.Request(), s.svc, actor(c), c.Param("id"), s.log, "request_id", requestIDOf(c))
}
