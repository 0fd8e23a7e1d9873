package notify_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/notify"
)

// cancelAfterResponse is a transport that receives a robot's whole answer
// and then cancels the pass, as the loss of leadership or a shutdown does
// at that moment.
type cancelAfterResponse struct {
	cancel context.CancelFunc
}

func (c cancelAfterResponse) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	c.cancel()
	return res, nil
}

// TestDeliveredBeforeCancelIsRecorded: a notice the robot accepted is
// recorded as sent even when the pass is cancelled right after (the leader
// stepping down, a shutdown), so that the next leader, or the next start,
// does not send it again.
func TestDeliveredBeforeCancelIsRecorded(t *testing.T) {
	f := newFixture(t, 0)
	f.assigned("昌江河道非法采砂", "2027-03-31")
	if _, err := f.sender.QueueEvents(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := notify.New(notify.Config{Service: f.svc, Guard: f.guard, Mail: f.box.mail(), DigestAt: notify.DefaultDigestAt,
		Client: &http.Client{Transport: cancelAfterResponse{cancel: cancel}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendDue(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled pass returned %v, want context.Canceled", err)
	}
	sent := 0
	for _, n := range f.log() {
		if n.State == workflow.NoticeSent {
			sent++
		}
	}
	if got := len(f.ding.texts()) + len(f.wecom.texts()); got != 1 || sent != 1+len(f.box.messages()) {
		t.Fatalf("the robots got %d messages and the mailbox %d; %d notices recorded sent", got, len(f.box.messages()), sent)
	}
	f.run()
	if len(f.ding.texts()) != 1 || len(f.wecom.texts()) != 1 || len(f.box.messages()) != 1 {
		t.Fatalf("after the next pass the robots got %d and %d messages and the mailbox %d, want one each",
			len(f.ding.texts()), len(f.wecom.texts()), len(f.box.messages()))
	}
}
