package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/workflow"
)

// demoUsers are the users --demo creates, one per role.
var demoUsers = []struct {
	name string
	role workflow.Role
	unit string // unit id or exact Chinese name
}{
	{"演示-生态环境局", workflow.RoleBureau, seeds.BureauUnitID},
	{"演示-浮梁县整改专员", workflow.RoleUnit, seeds.FuliangUnitID},
	{"演示-验收员", workflow.RoleInspector, "领导小组办公室"},
	{"演示-市领导", workflow.RoleViewer, "领导小组办公室"},
	{"演示-管理员", workflow.RoleAdmin, seeds.BureauUnitID},
}

// createDemoUsers makes sure each demo user exists and prints a fresh token
// for each; tokens are stored only as hashes, so they are shown this once.
func createDemoUsers(ctx context.Context, svc *workflow.Service, out io.Writer) error {
	existing, err := svc.Store().Users(ctx)
	if err != nil {
		return err
	}
	system := workflow.Actor{ID: "system", Name: "rectify", Role: workflow.RoleSystem}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "demo users (tokens are shown once):")
	fmt.Fprintln(tw, "ROLE\tTOKEN\tNAME\tUNIT")
	for _, d := range demoUsers {
		unit, err := svc.FindUnit(ctx, d.unit)
		if err != nil {
			return err
		}
		var token string
		for _, u := range existing {
			if u.Name == d.name && u.Role == d.role {
				if token, err = svc.IssueToken(ctx, u.ID); err != nil {
					return err
				}
				break
			}
		}
		if token == "" {
			if _, token, err = svc.CreateUser(ctx, system, workflow.NewUser{Name: d.name, Role: d.role, UnitID: unit.ID}); err != nil {
				return err
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.role, token, d.name, unit.Name)
	}
	return tw.Flush()
}
