package sdesk_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// flakyQueue refuses the first Enqueue (a Lambda Invoke throttled, a
// network error), then records jobs like queue.
type flakyQueue struct {
	*queue
	failed bool
}

func (q *flakyQueue) Enqueue(ctx context.Context, j sdesk.Job) error {
	if !q.failed {
		q.failed = true
		return errors.New("invoke: TooManyRequestsException")
	}
	return q.queue.Enqueue(ctx, j)
}

// TestSendAfterEnqueueFailure: the first "Send to GitLab" claims the
// message and stores its job, but handing the job to the queue fails (the
// user gets an apology), so nothing would ever run it. A later send finds
// the job stalled and queues it again: the message becomes its note, once.
func TestSendAfterEnqueueFailure(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.mapIssue(t)
	fq := &flakyQueue{queue: w.queue}
	w.svc.Queue = fq
	send := func(id string) (sdesk.Answer, error) {
		return w.svc.SubmitReply(ctx, sdesk.ThreadRequest{InteractionID: id, Token: "tok-" + id, ChannelID: replyThread, User: reporter,
			Text: "please send me", MessageID: "1600000000000000077"})
	}
	if _, err := send("1300000000000000970"); err == nil {
		t.Fatal("first send: want the enqueue error")
	}
	later := time.Now().Add(time.Hour)
	w.svc.Now = func() time.Time { return later }
	a, err := send("1300000000000000971")
	if err != nil {
		t.Fatal(err)
	}
	w.queue.mu.Lock()
	n := len(w.queue.jobs)
	w.queue.mu.Unlock()
	if n == 0 {
		t.Errorf("an hour later, a new send enqueued nothing and was told %q: the message is claimed by a job no queue holds, for a year", a.Message)
	}
	if strings.Contains(a.Message, "being sent to GitLab right now") && n == 0 {
		t.Errorf("the user is told the message is being sent, but nothing will send it")
	}
}
