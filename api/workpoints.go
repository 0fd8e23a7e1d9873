package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// workPointJSON is a work point as the API shows it: every list present.
type workPointJSON struct {
	Number           int             `json:"number"`
	Section          string          `json:"section"`
	Subsection       string          `json:"subsection,omitempty"`
	Title            string          `json:"title"`
	Text             string          `json:"text"`
	LeadUnits        []string        `json:"lead_units"`
	ResponsibleUnits []string        `json:"responsible_units"`
	CooperatingUnits []string        `json:"cooperating_units"`
	UnitGroups       []unitGroupJSON `json:"unit_groups"`
	Unresolved       []string        `json:"unresolved"`
	// Targets are the figures the point sets, which its reports in
	// dispatch rounds give figures against.
	Targets []workflow.Target `json:"targets"`
}

type unitGroupJSON struct {
	Name         string              `json:"name"`
	Duty         string              `json:"duty"`
	Kinds        []workflow.UnitKind `json:"kinds"`
	Units        []string            `json:"units"`
	Resolved     bool                `json:"resolved"`
	ResolvedBy   string              `json:"resolved_by,omitempty"`
	ResolverName string              `json:"resolver_name,omitempty"`
	ResolvedAt   *time.Time          `json:"resolved_at,omitempty"`
}

// orEmpty is list, or an empty list for nil.
func orEmpty[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

func workPointOf(wp workflow.WorkPoint) workPointJSON {
	out := workPointJSON{
		Number: wp.Number, Section: wp.Section, Subsection: wp.Subsection, Title: wp.Title, Text: wp.Text,
		LeadUnits: orEmpty(wp.LeadUnits), ResponsibleUnits: orEmpty(wp.ResponsibleUnits),
		CooperatingUnits: orEmpty(wp.CooperatingUnits), UnitGroups: []unitGroupJSON{}, Unresolved: orEmpty(wp.Unresolved()),
		Targets: orEmpty(wp.Targets),
	}
	for _, g := range wp.UnitGroups {
		out.UnitGroups = append(out.UnitGroups, unitGroupJSON{
			Name: g.Name, Duty: g.Duty, Kinds: orEmpty(g.Kinds), Units: orEmpty(g.Units), Resolved: g.Resolved(),
			ResolvedBy: g.ResolvedBy, ResolverName: g.ResolverName, ResolvedAt: g.ResolvedAt,
		})
	}
	return out
}

// listWorkPoints serves GET /workpoints: the plan's work points with the
// units each charges and its unit groups, resolved or not.
func (s *server) listWorkPoints(c echo.Context) error {
	wps, err := s.svc.WorkPoints(c.Request().Context())
	if err != nil {
		return err
	}
	items := make([]workPointJSON, 0, len(wps))
	for _, wp := range wps {
		items = append(items, workPointOf(wp))
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// resolveUnitGroupRequest names a unit group of a work point and the units
// it stands for.
type resolveUnitGroupRequest struct {
	Name  string   `json:"name"`
	Units []string `json:"units"`
}

// resolveUnitGroup serves PUT /workpoints/:number/unit-groups (the
// bureau): the units a group the plan names without them stands for.
func (s *server) resolveUnitGroup(c echo.Context) error {
	n, err := strconv.Atoi(c.Param("number"))
	if err != nil || strconv.Itoa(n) != c.Param("number") || n < 1 {
		return apiError(workflow.CodeInvalid, "number", "the work point in the path must be a number such as 13, not "+strconv.Quote(c.Param("number")))
	}
	var req resolveUnitGroupRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if req.Name == "" {
		return workflow.RefuseField(workflow.ReasonRequired, "name", "name is required: the group as the work point writes it")
	}
	wp, err := s.svc.ResolveUnitGroup(c.Request().Context(), actor(c), n, req.Name, req.Units)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, workPointOf(*wp))
}
