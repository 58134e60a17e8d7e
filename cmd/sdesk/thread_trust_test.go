package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/e2e"
)

// startChild runs this test binary as `sdesk serve` in a process of its
// own (see TestMain) on env, and returns its base URL and the process, to
// be killed by the test (it is killed at the end in any case).
func startChild(t *testing.T, env *e2e.Env) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SDESK_E2E_SERVE=1")
	for k, v := range env.Vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "sdesk serving" {
				addr <- line.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a, cmd
	case <-time.After(30 * time.Second):
		t.Fatal("child sdesk did not start")
		return "", nil
	}
}

// TestKilledDuringThreadCreate (issue 7, item 1) kills a real sdesk
// process (SIGKILL) while Discord holds the answer to its thread create,
// which has taken effect; members have opened threads named like the
// report's, before and during the create. sdesk, started again on the same
// bbolt file, adopts the thread it created, never a member's.
func TestKilledDuringThreadCreate(t *testing.T) {
	env := e2e.New(t)
	bot := env.Discord.BotUserID()
	members := map[string]string{} // thread ID -> name
	before := env.Discord.AddThread(e2e.ChannelID, e2e.Other.ID, "#1 help pls", 11)
	members[before] = "#1 help pls"
	env.Discord.LoseNext("POST", "/channels/"+e2e.ChannelID+"/threads", 1)

	url, cmd := startChild(t, env)
	submit := env.ModalSubmit(e2e.Reporter, e2e.ChannelID, "report", map[string]string{"title": "Account taken over", "description": "Kill me mid-create."})
	if got := env.Interact(url, submit); got.Type != 5 {
		t.Fatalf("got %s, want a deferred answer", got.Raw)
	}
	e2e.Eventually(t, "the thread create to be in flight", func() bool { return env.Discord.Held() == 1 })
	during := env.Discord.AddThread(e2e.ChannelID, e2e.Other.ID, "#1 help pls!!", 12)
	members[during] = "#1 help pls!!"
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	e2e.Eventually(t, "the held answer to be lost", func() bool { return env.Discord.Held() == 0 })
	var created []string
	for _, id := range env.Discord.Threads() {
		if _, member := members[id]; !member {
			created = append(created, id)
		}
	}
	if len(created) != 1 {
		t.Fatalf("threads created before the kill: got %v, want 1", created)
	}

	serve(t, env)
	answer := env.ReportDone(t, submit)
	if thread := e2e.ThreadOf(answer); !strings.HasPrefix(answer, "Issue #1 created") || thread != created[0] {
		t.Fatalf("answer after restart: got %q, want issue #1 in the thread created before the kill, %s", answer, created[0])
	}
	th, _ := env.Discord.Thread(created[0])
	if th.OwnerID != bot || th.Type != 12 || !slices.Equal(th.Members, []string{bot, e2e.Reporter.ID}) || len(th.Messages) != 1 {
		t.Errorf("report thread: got %+v, want the bot's private thread with the reporter and the report", th)
	}
	if n := len(env.Discord.Threads()); n != len(members)+1 {
		t.Errorf("threads: got %d, want the members' %d and one of sdesk's", n, len(members))
	}
	issues := env.GitLab.Issues()
	if len(issues) != 1 || !strings.Contains(issues[0].Description, "/"+created[0]+")") {
		t.Errorf("issues: got %+v, want one linking thread %s", issues, created[0])
	}
	for id, name := range members {
		st, _ := env.Discord.Thread(id)
		if len(st.Messages) != 0 || st.Name != name || !slices.Equal(st.Members, []string{e2e.Other.ID}) {
			t.Errorf("member thread %s: got %d messages, name %q, members %v; want it untouched", id, len(st.Messages), st.Name, st.Members)
		}
		for _, r := range env.Discord.Requests() {
			if strings.Contains(r.Path, id) {
				t.Errorf("request %s %s touched the member thread", r.Method, r.Path)
			}
		}
	}
}
