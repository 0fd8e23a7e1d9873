package ledgerfile

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"

	"github.com/jdz-eco/rectify/workflow"
)

// parseRow reads one non-blank row under the header; its errors are left in
// s.rowErrors.
func (s *scanner) parseRow(num int, cells []string) Row {
	s.rowErrors = s.rowErrors[:0]
	get := func(c string) string {
		j, ok := s.cols[c]
		if !ok || j >= len(cells) {
			return ""
		}
		return strings.TrimSpace(cells[j])
	}
	row := Row{Row: num, Code: get(ColCode), Description: get(ColDescription), SourceRef: get(ColSourceRef),
		Location: get(ColLocation), Requirements: get(ColRequirements), Title: get(ColTitle)}
	s.describe(&row)
	s.source(&row, get(ColSource))
	s.county(&row, get(ColCounty))
	s.workPoint(&row, get(ColWorkPoint))
	s.assignment(&row, get(ColLeadUnit), get(ColCooperating), get(ColDeadline))
	s.position(&row, get(ColPosition))
	s.duplicates(&row)
	return row
}

func (s *scanner) rowFail(row int, col string, rule workflow.Reason, format string, args ...any) {
	s.rowErrors = append(s.rowErrors, RowError{Row: row, Column: col, Rule: rule, Reason: fmt.Sprintf(format, args...)})
}

// rowFailValue is rowFail naming the cell's text at fault.
func (s *scanner) rowFailValue(row int, col string, rule workflow.Reason, value, format string, args ...any) {
	s.rowFail(row, col, rule, format, args...)
	s.rowErrors[len(s.rowErrors)-1].Value = value
}

// describe checks the description and derives a title when none is given.
func (s *scanner) describe(row *Row) {
	if row.Description == "" {
		s.rowFail(row.Row, ColDescription, workflow.ReasonRequired, "问题描述 is required")
	}
	if row.Title == "" {
		row.Title = deriveTitle(row.Description)
	} else {
		row.TitleGiven = true
	}
}

func (s *scanner) source(row *Row, cell string) {
	if cell == "" {
		s.rowFail(row.Row, ColSource, workflow.ReasonRequired, "问题来源 is required")
	} else if src, rule, why := parseSource(cell); why != "" {
		s.rowFailValue(row.Row, ColSource, rule, cell, "%s", why)
	} else {
		row.Source = src
	}
}

func (s *scanner) county(row *Row, cell string) {
	if cell == "" {
		s.rowFail(row.Row, ColCounty, workflow.ReasonRequired, "所在县（市、区） is required")
	} else if id, ok := s.unit(cell); !ok {
		s.rowFailValue(row.Row, ColCounty, workflow.ReasonUnknownUnit, cell, "unknown unit %q", cell)
	} else {
		row.CountyID = id
	}
}

func (s *scanner) workPoint(row *Row, cell string) {
	if cell == "" {
		return
	}
	wp, ok := parseWorkPoint(cell, s.byTitle)
	switch {
	case !ok:
		s.rowFailValue(row.Row, ColWorkPoint, workflow.ReasonUnknownWorkPoint, cell, "%q is not a work point number (7, 第7条) or title", cell)
	case len(s.known) > 0 && !s.known[wp]:
		s.rowFail(row.Row, ColWorkPoint, workflow.ReasonUnknownWorkPoint, "unknown work point %d", wp)
	default:
		row.WorkPoint = wp
	}
}

// assignment reads 牵头单位, 配合单位 and 整改时限, which assign the problem
// together, and checks that 整改要求 comes with them.
func (s *scanner) assignment(row *Row, lead, coop, deadline string) {
	if lead != "" {
		if id, ok := s.unit(lead); !ok {
			s.rowFailValue(row.Row, ColLeadUnit, workflow.ReasonUnknownUnit, lead, "unknown unit %q", lead)
		} else {
			row.LeadUnit = id
		}
	}
	for _, name := range splitUnits(coop) {
		if id, ok := s.unit(name); !ok {
			s.rowFailValue(row.Row, ColCooperating, workflow.ReasonUnknownUnit, name, "unknown unit %q", name)
		} else {
			row.CooperatingUnits = append(row.CooperatingUnits, id)
		}
	}
	if deadline != "" {
		if d, err := parseDate(deadline, s.date1904); err != nil {
			s.rowFail(row.Row, ColDeadline, workflow.ReasonBadDate, "%v", err)
		} else {
			row.Deadline = &d
		}
	}
	switch {
	case lead != "" && deadline == "":
		s.rowFail(row.Row, ColDeadline, workflow.ReasonAssignTogether, "整改时限 is required with 牵头单位 (together they assign the problem)")
	case lead == "" && deadline != "":
		s.rowFail(row.Row, ColLeadUnit, workflow.ReasonAssignTogether, "牵头单位 is required with 整改时限 (together they assign the problem)")
	case lead == "" && coop != "":
		s.rowFail(row.Row, ColCooperating, workflow.ReasonNeedsAssignment, "配合单位 needs 牵头单位 and 整改时限")
	case lead == "" && row.Requirements != "":
		s.rowFail(row.Row, ColRequirements, workflow.ReasonNeedsAssignment, "整改要求 needs 牵头单位 and 整改时限")
	}
}

// position reads 经纬度 as the export writes it: "纬度, 经度" in WGS-84
// (a full-width comma, or spaces, also separate them).
func (s *scanner) position(row *Row, cell string) {
	if cell == "" {
		return
	}
	parts := strings.FieldsFunc(cell, func(r rune) bool { return r == ',' || r == '，' || r == ' ' || r == '\t' })
	if len(parts) != 2 {
		s.rowFailValue(row.Row, ColPosition, workflow.ReasonMalformed, cell, "%q is not a position (纬度, 经度: 29.292100, 117.207800)", cell)
		return
	}
	lat, err1 := strconv.ParseFloat(parts[0], 64)
	lng, err2 := strconv.ParseFloat(parts[1], 64)
	if err1 != nil || err2 != nil {
		s.rowFailValue(row.Row, ColPosition, workflow.ReasonMalformed, cell, "%q is not a position (纬度, 经度: 29.292100, 117.207800)", cell)
		return
	}
	p, err := workflow.NewLatLng(lat, lng, workflow.DatumWGS84)
	if err != nil {
		s.rowFailValue(row.Row, ColPosition, workflow.ErrorReason(err), cell, "%s", workflow.ErrorMessage(err))
		return
	}
	row.Position = &p
}

// duplicates refuses a row with the identity (see Row.DedupeKey) or the
// 问题编号 of an earlier row of the file.
func (s *scanner) duplicates(row *Row) {
	if row.Description != "" {
		k := sha256.Sum256([]byte(row.identityText()))
		if first, dup := s.seen[k]; dup && row.TitleGiven {
			s.rowFail(row.Row, ColDescription, workflow.ReasonDuplicateRow, "duplicate of row %d (same 来源文件, 问题描述 and 问题名称)", first)
		} else if dup {
			s.rowFail(row.Row, ColDescription, workflow.ReasonDuplicateRow, "duplicate of row %d (same 来源文件 and 问题描述)", first)
		} else {
			s.seen[k] = row.Row
		}
	}
	if row.Code != "" {
		if first, dup := s.codes[row.Code]; dup {
			s.rowFail(row.Row, ColCode, workflow.ReasonDuplicateCode, "问题编号 %s is also on row %d", row.Code, first)
		} else {
			s.codes[row.Code] = row.Row
		}
	}
}
