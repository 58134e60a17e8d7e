package sdesk_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/bolt"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

func eventJob(t *testing.T, id string, iid int) sdesk.Job {
	t.Helper()
	b, err := json.Marshal(sdesk.Event{Key: id, Note: &sdesk.NoteEvent{IssueIID: iid, NoteID: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return sdesk.Job{ID: id, Kind: sdesk.JobGitLabEvent, Payload: b, Status: sdesk.JobPending, CreatedAt: time.Now()}
}

// TestPoolKeepsIssueOrder: the events of one issue run one at a time and in
// order, a failed one's retry included; other issues are not held up.
func TestPoolKeepsIssueOrder(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "sdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var (
		mu      sync.Mutex
		order   []string
		failed  bool
		running = map[int]bool{}
		overlap bool
		done    = make(chan struct{}, 10)
	)
	p := &sdesk.Pool{Store: st, Workers: 3, Backoff: func(int) time.Duration { return 50 * time.Millisecond }}
	p.Run = func(_ context.Context, j sdesk.Job) error {
		var ev sdesk.Event
		_ = json.Unmarshal(j.Payload, &ev)
		iid := ev.IssueIID()
		mu.Lock()
		if running[iid] {
			overlap = true
		}
		running[iid] = true
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		running[iid] = false
		if j.ID == "a" && !failed {
			failed = true
			order = append(order, "a(failed)")
			return errors.New("discord down")
		}
		order = append(order, j.ID)
		j.Status = sdesk.JobDone
		_ = st.PutJob(context.Background(), j)
		done <- struct{}{}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, j := range []sdesk.Job{eventJob(t, "a", 7), eventJob(t, "b", 7), eventJob(t, "c", 8), eventJob(t, "d", 7)} {
		if err := st.PutJob(context.Background(), j); err != nil {
			t.Fatal(err)
		}
		if err := p.Enqueue(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("jobs did not finish: %v", order)
		}
	}
	cancel()
	p.Wait()
	var issue7 []string
	for _, id := range order {
		if id != "c" {
			issue7 = append(issue7, id)
		}
	}
	if got, want := len(issue7), 4; got != want || issue7[0] != "a(failed)" || issue7[1] != "a" || issue7[2] != "b" || issue7[3] != "d" {
		t.Errorf("issue 7 order: got %v, want [a(failed) a b d]", issue7)
	}
	if overlap {
		t.Error("two jobs of one issue ran at the same time")
	}
}
