package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestImmediateNoticeWithoutTheRoutine: an assignment reaches the unit's
// robot within seconds although the routine's next run is an hour away
// (immediate notices have a runner of their own, --notify-poll-interval).
func TestImmediateNoticeWithoutTheRoutine(t *testing.T) {
	db := t.TempDir() + "/rectify.db"
	run(t, "seed", "--db", db)
	admin := addUser(t, db, "管理员", "admin", "市生态环境局")
	bureauTok := addUser(t, db, "局办王", "bureau", "市生态环境局")

	messages := make(chan string, 16)
	robot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		messages <- string(body)
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	defer robot.Close()

	srv := startServer(t, db, "--scan-interval", "0", "--routine-interval", "1h", "--notify-poll-interval", "100ms",
		"--notify-allow-http", "--notify-allow-private")
	adm := &client{t, srv.url, admin}
	bureau := &client{t, srv.url, bureauTok}
	var units struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	bureau.do("GET", "/api/v1/units", nil, 200, &units)
	fuliang := ""
	for _, u := range units.Items {
		if u.Name == "浮梁县" {
			fuliang = u.ID
		}
	}
	adm.do("PUT", "/api/v1/units/"+fuliang+"/contact", map[string]any{"wecom_url": robot.URL + "/cgi-bin/webhook/send?key=k"}, 200, nil)

	var p problemJSON
	bureau.do("POST", "/api/v1/problems", map[string]any{
		"title": "河道非法采砂", "description": "昌江浮梁段发现非法采砂点", "source": "self_inspection", "county_id": fuliang,
	}, 201, &p)
	bureau.do("POST", "/api/v1/problems/"+p.ID+"/transitions", map[string]any{
		"trigger": "assign", "lead_unit": fuliang, "deadline": time.Now().AddDate(1, 0, 0).Format(time.DateOnly),
	}, 200, &p)

	// The routine ran once at start, before the assignment; only the
	// deliveries' own runner can send it now.
	deadline := time.After(time.Minute)
	for {
		select {
		case m := <-messages:
			var msg struct {
				MsgType  string `json:"msgtype"`
				Markdown struct {
					Content string `json:"content"`
				} `json:"markdown"`
			}
			if err := json.Unmarshal([]byte(m), &msg); err != nil {
				t.Fatalf("robot message %q: %v", m, err)
			}
			if strings.Contains(msg.Markdown.Content, p.Code) {
				return
			}
		case <-deadline:
			t.Fatalf("no notice of the assignment of %s reached the robot within a minute", p.Code)
		}
	}
}
