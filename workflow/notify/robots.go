package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"
)

// Robot message formats, as DingTalk's custom robot and WeCom's group robot
// document them: a JSON POST of a markdown message, answered 200 with
// {"errcode":0,"errmsg":"ok"}; any other errcode is a failure.

// DingTalkMarkdown is DingTalk's markdown message.
type DingTalkMarkdown struct {
	MsgType  string `json:"msgtype"` // "markdown"
	Markdown struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"markdown"`
}

// WeComMarkdown is WeCom's markdown message.
type WeComMarkdown struct {
	MsgType  string `json:"msgtype"` // "markdown"
	Markdown struct {
		Content string `json:"content"`
	} `json:"markdown"`
}

// WeComMaxContent is the most bytes WeCom takes in a markdown message.
const WeComMaxContent = 4096

// DingTalkMaxText is the most bytes sent in a DingTalk markdown message.
const DingTalkMaxText = 18000

// DingTalkSign returns the sign of a DingTalk request at timestamp
// (milliseconds since 1970): the base64 HMAC-SHA256, keyed with secret, of
// timestamp, a line feed and secret.
func DingTalkSign(secret string, timestamp int64) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// DingTalkURL returns raw with timestamp and sign added to its query when
// secret is set (DingTalk's 加签).
func DingTalkURL(raw, secret string, now time.Time) (string, error) {
	if secret == "" {
		return raw, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	ts := now.UnixMilli()
	q := u.Query()
	q.Set("timestamp", strconv.FormatInt(ts, 10))
	q.Set("sign", DingTalkSign(secret, ts))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// truncate cuts s to at most n bytes at a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const more = "\n\n……（内容过长，已截断，请登录系统查看）"
	cut := n - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}

// DingTalkBody is the body posted to a DingTalk robot.
func DingTalkBody(title, text string) ([]byte, error) {
	var m DingTalkMarkdown
	m.MsgType = "markdown"
	m.Markdown.Title = title
	m.Markdown.Text = truncate(text, DingTalkMaxText)
	return json.Marshal(m)
}

// WeComBody is the body posted to a WeCom robot.
func WeComBody(text string) ([]byte, error) {
	var m WeComMarkdown
	m.MsgType = "markdown"
	m.Markdown.Content = truncate(text, WeComMaxContent)
	return json.Marshal(m)
}

// robotAnswer is both robots' answer.
type robotAnswer struct {
	ErrCode *int   `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// postRobot posts body to u and checks the robot's answer.
func postRobot(ctx context.Context, c *http.Client, u string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("robot request: %s", redactErr(err))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "rectify-notify/1")
	res, err := c.Do(req)
	if err != nil {
		return noAnswer{msg: redactErr(err), err: err}
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("robot answered %s", res.Status)
	}
	var a robotAnswer
	if err := json.Unmarshal(data, &a); err != nil || a.ErrCode == nil {
		return fmt.Errorf("robot answered no errcode: %.200q", data)
	}
	if *a.ErrCode != 0 {
		return fmt.Errorf("robot answered errcode %d: %.200s", *a.ErrCode, a.ErrMsg)
	}
	return nil
}

// noAnswer is a robot that did not answer (no connection, a timeout): its
// text without the URL, the client's error beneath it.
type noAnswer struct {
	msg string
	err error
}

func (e noAnswer) Error() string { return e.msg }
func (e noAnswer) Unwrap() error { return e.err }

// redactErr drops the URL (its query holds the robot's token) from a
// client error.
func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " " + MaskURL(ue.URL) + ": " + ue.Err.Error()
	}
	return err.Error()
}

// MaskURL is the URL up to its query.
func MaskURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(bad URL)"
	}
	return p.Scheme + "://" + p.Host + p.Path
}
