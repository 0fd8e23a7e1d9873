package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"

	"github.com/jdz-eco/rectify/api/web"
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
// and a fresh password for each (the password signs in to the web pages);
// tokens and passwords are stored only as hashes, so they are shown this
// once, and those of an earlier run stop working for the web pages.
func createDemoUsers(ctx context.Context, svc *workflow.Service, out io.Writer) error {
	existing, err := svc.Store().Users(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "demo users (tokens and passwords are shown once):")
	t := &table{}
	t.row("ROLE", "TOKEN", "PASSWORD", "NAME", "UNIT")
	for _, d := range demoUsers {
		unit, err := svc.FindUnit(ctx, d.unit)
		if err != nil {
			return err
		}
		var token, id string
		for _, u := range existing {
			if u.Name == d.name && u.Role == d.role {
				if token, err = svc.IssueToken(ctx, u.ID); err != nil {
					return err
				}
				id = u.ID
				break
			}
		}
		if token == "" {
			u, t, err := svc.CreateUser(ctx, cliActor, workflow.NewUser{Name: d.name, Role: d.role, UnitID: unit.ID})
			if err != nil {
				return err
			}
			token, id = t, u.ID
		}
		password := demoPassword()
		hash, err := web.HashPassword(password)
		if err != nil {
			return err
		}
		if err := svc.SetPassword(ctx, cliActor, id, hash); err != nil {
			return err
		}
		t.row(string(d.role), token, password, d.name, unit.Name)
	}
	return t.write(out)
}

// demoPassword returns a random password that is easy to type: three
// groups of four lowercase letters and digits without look-alikes, from
// crypto/rand (about 59 bits).
func demoPassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	const limit = 256 / len(alphabet) * len(alphabet) // unbiased
	out := make([]byte, 0, 14)
	var b [1]byte
	for len(out) < 14 {
		if len(out) == 4 || len(out) == 9 {
			out = append(out, '-')
			continue
		}
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		if int(b[0]) < limit {
			out = append(out, alphabet[int(b[0])%len(alphabet)])
		}
	}
	return string(out)
}
