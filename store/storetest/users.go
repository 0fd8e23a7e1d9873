package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

func testUnits(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	got, err := s.Units(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("Units of an empty store = %v, %v", got, err)
	}
	units := Units()
	units = append(units, workflow.Unit{ID: "fuliang_ecology", Name: "市生态环境局浮梁分局", Kind: workflow.UnitDepartment, Parent: Bureau})
	if err := s.PutUnits(ctx, units); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(units)
	slices.SortFunc(want, func(a, b workflow.Unit) int { return strings.Compare(a.ID, b.ID) })
	got, err = s.Units(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "Units", got, want)

	// PutUnits replaces by ID.
	renamed := workflow.Unit{ID: Water, Name: "景德镇市水利局", Kind: workflow.UnitDepartment}
	if err := s.PutUnits(ctx, []workflow.Unit{renamed}); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if want[i].ID == Water {
			want[i] = renamed
		}
	}
	got, err = s.Units(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "Units after a replacement", got, want)
}

func testWorkPoints(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	got, err := s.WorkPoints(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("WorkPoints of an empty store = %v, %v", got, err)
	}
	wps := []workflow.WorkPoint{
		{Number: 12, Section: "三、深入推进污染治理", Title: "推进城镇污水处理提质增效", Text: "加快补齐城镇污水收集管网短板。", LeadUnits: []string{Housing}, CooperatingUnits: []string{Fuliang, Leping}},
		{Number: 1, Section: "一、扎实推进问题整改", Title: "狠抓警示片披露问题整改", Text: "确保涉及我市 6 个生态环境问题在整改时限内完成整改任务。", LeadUnits: []string{Bureau}, CooperatingUnits: []string{Water, Guokong}},
		{Number: 3, Section: "一、扎实推进问题整改", Title: "扎实推进其他反馈问题整改", Text: "深入推进长江经济带审计指出问题整改。", LeadUnits: []string{Bureau}},
	}
	if err := s.PutWorkPoints(ctx, wps); err != nil {
		t.Fatal(err)
	}
	got, err = s.WorkPoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "WorkPoints", got, []workflow.WorkPoint{wps[1], wps[2], wps[0]})

	changed := wps[2]
	changed.Title = "推进审计和督察反馈问题整改"
	if err := s.PutWorkPoints(ctx, []workflow.WorkPoint{changed}); err != nil {
		t.Fatal(err)
	}
	got, err = s.WorkPoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "WorkPoints after a replacement", got, []workflow.WorkPoint{wps[1], changed, wps[0]})
}

func testUsersAndTokens(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	bureau := workflow.User{ID: "u2b7c", Name: "王科长", Role: workflow.RoleBureau, UnitID: Bureau, CreatedAt: T0}
	officer := workflow.User{ID: "u1a90", Name: "浮梁县联络员", Role: workflow.RoleUnit, UnitID: Fuliang, CreatedAt: T0}
	gone := workflow.User{ID: "u9ff0", Name: "离职人员", Role: workflow.RoleViewer, UnitID: Bureau, CreatedAt: T0, Disabled: true}
	token := func(secret, user string) workflow.Token {
		return workflow.Token{Hash: workflow.HashToken("rt_" + secret), UserID: user, CreatedAt: T0}
	}
	for _, c := range []struct {
		u workflow.User
		t workflow.Token
	}{{bureau, token("bureau-1", bureau.ID)}, {officer, token("officer-1", officer.ID)}, {gone, token("gone-1", gone.ID)}} {
		if err := s.CreateUser(ctx, c.u, c.t); err != nil {
			t.Fatalf("CreateUser(%s) = %v", c.u.ID, err)
		}
	}

	// A duplicate user ID is a conflict and writes nothing, not even its token.
	dup := bureau
	dup.Name = "冒名者"
	err := s.CreateUser(ctx, dup, token("dup", bureau.ID))
	wantCode(t, "CreateUser with a duplicate id", err, workflow.CodeConflict)
	_, err = s.UserByToken(ctx, token("dup", bureau.ID).Hash)
	wantCode(t, "UserByToken of a refused user's token", err, workflow.CodeNotFound)

	users, err := s.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "Users", users, []workflow.User{officer, bureau, gone})

	// Another token for an existing user; none for a missing one.
	if err := s.AddToken(ctx, token("bureau-2", bureau.ID)); err != nil {
		t.Fatalf("AddToken = %v", err)
	}
	err = s.AddToken(ctx, token("ghost", "u0000"))
	wantCode(t, "AddToken for a missing user", err, workflow.CodeNotFound)

	lookups := []struct {
		secret string
		want   *workflow.User
	}{
		{"bureau-1", &bureau},
		{"bureau-2", &bureau},
		{"officer-1", &officer},
		{"gone-1", &gone}, // disabled users are the domain's business
		{"ghost", nil},
		{"unknown", nil},
	}
	for _, l := range lookups {
		got, err := s.UserByToken(ctx, workflow.HashToken("rt_"+l.secret))
		if l.want == nil {
			wantCode(t, "UserByToken("+l.secret+")", err, workflow.CodeNotFound)
			continue
		}
		if err != nil {
			t.Errorf("UserByToken(%s) = %v", l.secret, err)
			continue
		}
		sameJSON(t, "UserByToken("+l.secret+")", got, l.want)
	}
	_, err = s.UserByToken(ctx, "")
	wantCode(t, "UserByToken of an empty hash", err, workflow.CodeNotFound)
}
