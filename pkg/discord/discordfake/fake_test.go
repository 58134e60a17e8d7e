package discordfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/discord/discordfake"
)

type answer struct {
	status int
	header http.Header
	body   map[string]any
	list   []any
}

// do sends a JSON request; auth adds the bot's Authorization.
func do(t *testing.T, fake *discordfake.Server, method, path string, body any, auth bool) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, fake.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.Header.Set("Authorization", "Bot "+fake.Token())
	}
	return send(t, req)
}

func send(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header}
	if len(b) > 0 {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s %s: answer %q is not JSON", req.Method, req.URL.Path, b)
		}
		a.body, _ = v.(map[string]any)
		a.list, _ = v.([]any)
	}
	return a
}

func thread(t *testing.T, fake *discordfake.Server) string {
	t.Helper()
	a := do(t, fake, "POST", "/channels/10/threads", map[string]any{"name": "T", "type": 12, "invitable": false, "auto_archive_duration": 10080}, true)
	if a.status != http.StatusCreated {
		t.Fatalf("create thread: %d %v", a.status, a.body)
	}
	return a.body["id"].(string)
}

func TestAuthAndRoutes(t *testing.T) {
	fake := discordfake.New(t)
	tests := []struct {
		name       string
		method     string
		path       string
		body       any
		auth       bool
		wantStatus int
		wantBody   string
	}{
		{"bot route without token", "POST", "/channels/1/messages", map[string]any{"content": "x"}, false, 401, `{"code":0,"message":"401: Unauthorized"}`},
		{"bot route with token", "POST", "/channels/1/messages", map[string]any{"content": "x"}, true, 200, ""},
		{"webhook edit without token", "PATCH", "/webhooks/1/tok/messages/@original", map[string]any{"content": "x"}, false, 200, ""},
		{"follow-up without token", "POST", "/webhooks/1/tok", map[string]any{"content": "x"}, false, 200, ""},
		{"callback without token", "POST", "/interactions/5/tok/callback", map[string]any{"type": 5}, false, 204, ""},
		{"unknown route", "GET", "/users/@me/guilds", nil, true, 404, `{"code":0,"message":"404: Not Found"}`},
		{"other method on a known path", "DELETE", "/channels/1/messages", nil, true, 405, `{"code":0,"message":"405: Method Not Allowed"}`},
		{"thread member of an unknown thread", "PUT", "/channels/77/thread-members/1", nil, true, 404, `{"code":10003,"message":"Unknown Channel"}`},
		{"empty message", "POST", "/channels/1/messages", map[string]any{"content": ""}, true, 400, `{"code":50006,"message":"Cannot send an empty message"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, fake, tt.method, tt.path, tt.body, tt.auth)
			if a.status != tt.wantStatus {
				t.Errorf("status = %d %v, want %d", a.status, a.body, tt.wantStatus)
			}
			if tt.wantBody != "" {
				got, _ := json.Marshal(a.body)
				if string(got) != tt.wantBody {
					t.Errorf("body = %s, want %s", got, tt.wantBody)
				}
			}
		})
	}
	t.Run("other API version", func(t *testing.T) {
		resp, err := http.Get(strings.Replace(fake.URL(), "/api/v10", "/api/v9", 1) + "/channels/1")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("status = %d, want 404", resp.StatusCode)
		}
	})
}

func TestMessageLimits(t *testing.T) {
	fake := discordfake.New(t)
	tests := []struct {
		name string
		body map[string]any
		code float64
	}{
		{"content too long", map[string]any{"content": strings.Repeat("é", 2001)}, 50035},
		{"11 embeds", map[string]any{"embeds": make([]any, 11)}, 50035},
		{"description too long", map[string]any{"embeds": []any{map[string]any{"description": strings.Repeat("a", 4097)}}}, 50035},
		{"parse roles with roles", map[string]any{"content": "x", "allowed_mentions": map[string]any{"parse": []any{"roles"}, "roles": []any{"1"}}}, 50035},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, fake, "POST", "/channels/1/messages", tt.body, true)
			if a.status != 400 || a.body["code"] != tt.code {
				t.Errorf("answer = %d %v, want 400 code %v", a.status, a.body, tt.code)
			}
		})
	}
}

func TestThreadLifecycle(t *testing.T) {
	fake := discordfake.New(t)
	th := thread(t, fake)
	if a := do(t, fake, "PUT", "/channels/"+th+"/thread-members/42", nil, true); a.status != 204 {
		t.Fatalf("add member: %d", a.status)
	}
	a := do(t, fake, "POST", "/channels/"+th+"/messages", map[string]any{"content": "one", "allowed_mentions": map[string]any{"parse": []any{}}}, true)
	if a.status != 200 || a.body["channel_id"] != th || a.body["content"] != "one" {
		t.Fatalf("post: %d %v", a.status, a.body)
	}
	msgID := a.body["id"].(string)

	// Archive: a post unarchives; then archive and lock: posts, edits and
	// new members are refused.
	do(t, fake, "PATCH", "/channels/"+th, map[string]any{"archived": true}, true)
	if a := do(t, fake, "POST", "/channels/"+th+"/messages", map[string]any{"content": "two"}, true); a.status != 200 {
		t.Fatalf("post to archived thread: %d %v", a.status, a.body)
	}
	if st, _ := fake.Thread(th); st.Archived {
		t.Error("still archived after a post")
	}
	a = do(t, fake, "PATCH", "/channels/"+th, map[string]any{"archived": true, "locked": true, "name": "closed"}, true)
	meta, _ := a.body["thread_metadata"].(map[string]any)
	if a.status != 200 || meta["archived"] != true || meta["locked"] != true || a.body["name"] != "closed" {
		t.Fatalf("archive+lock: %d %v", a.status, a.body)
	}
	for _, r := range []struct{ method, path string }{
		{"POST", "/channels/" + th + "/messages"},
		{"PATCH", "/channels/" + th + "/messages/" + msgID},
		{"PUT", "/channels/" + th + "/thread-members/43"},
	} {
		a := do(t, fake, r.method, r.path, map[string]any{"content": "three"}, true)
		if a.status != 400 || a.body["code"] != float64(50083) || a.body["message"] != "Thread is archived" {
			t.Errorf("%s %s in a locked archived thread: %d %v, want 400 50083", r.method, r.path, a.status, a.body)
		}
	}

	st, ok := fake.Thread(th)
	if !ok {
		t.Fatal("thread missing")
	}
	if st.Name != "closed" || !st.Archived || !st.Locked || st.Type != 12 || st.Invitable || st.AutoArchiveDuration != 10080 {
		t.Errorf("state = %+v", st)
	}
	if got, want := fmt.Sprint(st.Members), fmt.Sprint([]string{fake.BotUserID(), "42"}); got != want {
		t.Errorf("members = %s, want %s", got, want)
	}
	if len(st.Messages) != 2 || st.Messages[0].Content != "one" || st.Messages[1].Content != "two" {
		t.Errorf("messages = %+v", st.Messages)
	}
	if string(st.Messages[0].AllowedMentions) != `{"parse":[]}` || st.Messages[1].AllowedMentions != nil {
		t.Errorf("allowed mentions = %s, %s", st.Messages[0].AllowedMentions, st.Messages[1].AllowedMentions)
	}
}

func TestCreateThreadValidation(t *testing.T) {
	fake := discordfake.New(t)
	th := thread(t, fake)
	tests := []struct {
		name, channel string
		body          map[string]any
		code          float64
	}{
		{"no type (required in v10)", "10", map[string]any{"name": "x"}, 50035},
		{"name too long", "10", map[string]any{"name": strings.Repeat("a", 101), "type": 12}, 50035},
		{"bad archive duration", "10", map[string]any{"name": "x", "type": 12, "auto_archive_duration": 5}, 50035},
		{"thread in a thread", th, map[string]any{"name": "x", "type": 12}, 50024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, fake, "POST", "/channels/"+tt.channel+"/threads", tt.body, true)
			if a.status != 400 || a.body["code"] != tt.code {
				t.Errorf("answer = %d %v, want 400 code %v", a.status, a.body, tt.code)
			}
		})
	}
}

func TestMultipart(t *testing.T) {
	fake := discordfake.New(t)
	th := thread(t, fake)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="payload_json"`)
	h.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(h)
	_, _ = pw.Write([]byte(`{"content":"with file","allowed_mentions":{"parse":[]}}`))
	for i, name := range []string{"a.txt", "b.bin"} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="files[%d]"; filename="%s"`, i, name))
		h.Set("Content-Type", "application/octet-stream")
		fw, _ := mw.CreatePart(h)
		_, _ = fw.Write([]byte("data-" + name))
	}
	_ = mw.Close()
	req, _ := http.NewRequest("POST", fake.URL()+"/channels/"+th+"/messages", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bot "+fake.Token())
	a := send(t, req)
	atts, _ := a.body["attachments"].([]any)
	if a.status != 200 || len(atts) != 2 || a.body["content"] != "with file" {
		t.Fatalf("answer = %d %v", a.status, a.body)
	}
	if att := atts[1].(map[string]any); att["filename"] != "b.bin" || att["size"] != float64(len("data-b.bin")) {
		t.Errorf("attachment = %v", att)
	}
	r := fake.Requests()[1]
	if string(r.JSON) != `{"content":"with file","allowed_mentions":{"parse":[]}}` || len(r.Files) != 2 || string(r.Files[0].Data) != "data-a.txt" || r.Files[1].Field != "files[1]" {
		t.Errorf("recorded = %s %+v", r.JSON, r.Files)
	}
	m := fake.Messages(th)[0]
	if len(m.Files) != 2 || m.Files[0].Name != "a.txt" || m.Files[0].ID == "" {
		t.Errorf("message files = %+v", m.Files)
	}
}

func TestFailNext(t *testing.T) {
	fake := discordfake.New(t)
	fake.FailNext("POST", "/channels/*/messages", 429, `{"message":"You are being rate limited.","retry_after":1.5,"global":false}`, 2)
	for i := range 2 {
		a := do(t, fake, "POST", "/channels/1/messages", map[string]any{"content": "x"}, true)
		if a.status != 429 || a.body["retry_after"] != 1.5 {
			t.Fatalf("attempt %d: %d %v", i, a.status, a.body)
		}
		for k, want := range map[string]string{"Retry-After": "2", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "1.500", "X-RateLimit-Scope": "user"} {
			if got := a.header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
	}
	if a := do(t, fake, "POST", "/channels/1/messages", map[string]any{"content": "x"}, true); a.status != 200 {
		t.Errorf("third attempt: %d", a.status)
	}
	if n := len(fake.Messages("1")); n != 1 {
		t.Errorf("%d messages, want 1 (failed requests do nothing)", n)
	}
	fake.FailNext("", "/channels/*", 500, "", 1)
	if a := do(t, fake, "PATCH", "/channels/1", map[string]any{"name": "x"}, true); a.status != 500 || a.body["message"] != "500: Internal Server Error" {
		t.Errorf("500: %d %v", a.status, a.body)
	}
	reqs := fake.Requests()
	if len(reqs) != 4 || reqs[0].Status != 429 || reqs[2].Status != 200 || reqs[3].Status != 500 {
		t.Errorf("requests = %d", len(reqs))
	}
	fake.Reset()
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests after Reset", n)
	}
}

func TestInteractions(t *testing.T) {
	fake := discordfake.New(t)
	a := do(t, fake, "POST", "/interactions/9/tok/callback", map[string]any{"type": 4, "data": map[string]any{"content": "hi", "flags": 64}}, false)
	if a.status != 204 {
		t.Fatalf("callback: %d %v", a.status, a.body)
	}
	if a := do(t, fake, "POST", "/interactions/9/tok/callback", map[string]any{"type": 4, "data": map[string]any{"content": "again"}}, false); a.status != 400 || a.body["code"] != float64(40060) {
		t.Errorf("second callback: %d %v", a.status, a.body)
	}
	if m, ok := fake.OriginalResponse("tok"); !ok || m.Content != "hi" || m.Flags != 64 {
		t.Errorf("original after callback = %+v", m)
	}
	do(t, fake, "PATCH", "/webhooks/1/tok/messages/@original", map[string]any{"content": "edited", "allowed_mentions": map[string]any{"parse": []any{}}}, false)
	if m, _ := fake.OriginalResponse("tok"); m.Content != "edited" || m.Edits != 1 || string(m.AllowedMentions) != `{"parse":[]}` {
		t.Errorf("original after edit = %+v", m)
	}
	a = do(t, fake, "POST", "/webhooks/1/tok", map[string]any{"content": "follow"}, false)
	if a.status != 200 || a.body["webhook_id"] != "1" {
		t.Errorf("follow-up: %d %v", a.status, a.body)
	}
	if f := fake.Followups("tok"); len(f) != 1 || f[0].Content != "follow" {
		t.Errorf("follow-ups = %+v", f)
	}
	if cb, ok := fake.Callback("9"); !ok || cb.Object()["type"] != float64(4) {
		t.Errorf("callback = %+v", cb)
	}
}

func TestCommandsKeepIDs(t *testing.T) {
	fake := discordfake.New(t)
	cmds := []any{map[string]any{"name": "report", "description": "d"}, map[string]any{"name": "Reply", "type": 3}}
	first := do(t, fake, "PUT", "/applications/1/guilds/2/commands", cmds, true)
	second := do(t, fake, "PUT", "/applications/1/guilds/2/commands", cmds[:1], true)
	if first.status != 200 || len(first.list) != 2 || second.status != 200 || len(second.list) != 1 {
		t.Fatalf("answers = %v, %v", first, second)
	}
	id1 := first.list[0].(map[string]any)["id"]
	if id2 := second.list[0].(map[string]any)["id"]; id1 == "" || id1 != id2 {
		t.Errorf("IDs %v, %v: want the same", id1, id2)
	}
	if got := fake.Commands("1", "2"); len(got) != 1 || got[0]["guild_id"] != "2" {
		t.Errorf("commands = %v", got)
	}
	if got := fake.Commands("1", ""); len(got) != 0 {
		t.Errorf("global commands = %v", got)
	}
}

func TestDelayAndConcurrency(t *testing.T) {
	fake := discordfake.New(t)
	th := thread(t, fake)
	fake.SetDelay(50 * time.Millisecond)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			do(t, fake, "POST", "/channels/"+th+"/messages", map[string]any{"content": fmt.Sprint(i)}, true)
			_ = fake.Requests()
			_, _ = fake.Thread(th)
		})
	}
	wg.Wait()
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("answers after %v, want the delay", d)
	}
	if n := len(fake.Messages(th)); n != 10 {
		t.Errorf("%d messages, want 10", n)
	}
}

func TestThreadOwnersAndActiveList(t *testing.T) {
	fake := discordfake.New(t)
	bot := fake.BotUserID()
	if a := do(t, fake, "GET", "/users/@me", nil, true); a.status != 200 || a.body["id"] != bot || a.body["bot"] != true {
		t.Errorf("GET /users/@me = %d %v, want the bot user %s", a.status, a.body, bot)
	}
	if a := do(t, fake, "GET", "/users/@me", nil, false); a.status != 401 {
		t.Errorf("GET /users/@me without token = %d, want 401", a.status)
	}

	own := thread(t, fake) // under channel 10, by the bot
	public := fake.AddThread("10", "42", "#1 help pls", 11)
	private := fake.AddThread("10", "43", "#1 psst", 12)
	elsewhere := fake.AddThread("11", "42", "#1 other channel", 12)
	wantThreads := []struct {
		id, owner, parent string
		typ               int
		botMember         bool
	}{
		{elsewhere, "42", "11", 12, false},
		{private, "43", "10", 12, false},
		{public, "42", "10", 11, false},
		{own, bot, "10", 12, true},
	}
	a := do(t, fake, "GET", "/guilds/"+fake.GuildID()+"/threads/active", nil, true)
	threads, _ := a.body["threads"].([]any)
	members, _ := a.body["members"].([]any)
	if a.status != 200 || len(threads) != len(wantThreads) {
		t.Fatalf("active threads = %d %v, want %d threads", a.status, a.body, len(wantThreads))
	}
	for i, w := range wantThreads { // by ID, descending
		got, _ := threads[i].(map[string]any)
		_, member := got["member"]
		if got["id"] != w.id || got["owner_id"] != w.owner || got["parent_id"] != w.parent || got["type"] != float64(w.typ) || member != w.botMember {
			t.Errorf("thread %d = %v, want id %s owner %s parent %s type %d, bot member %v", i, got, w.id, w.owner, w.parent, w.typ, w.botMember)
		}
		st, ok := fake.Thread(w.id)
		if !ok || st.OwnerID != w.owner || st.ParentID != w.parent || st.Type != w.typ || st.Members[0] != w.owner {
			t.Errorf("Thread(%s) = %+v, %v", w.id, st, ok)
		}
	}
	if len(members) != 1 || members[0].(map[string]any)["id"] != own {
		t.Errorf("members = %v, want the bot's membership of %s only", members, own)
	}
	if got := fake.Threads(); len(got) != 4 || got[0] != own || got[3] != elsewhere {
		t.Errorf("Threads() = %v, want all four in creation order", got)
	}
	if n := len(fake.Requests()); n != 4 {
		t.Errorf("%d requests recorded, want 4 (AddThread records none)", n)
	}
}

func TestAddThreadRefusesMistakes(t *testing.T) {
	fake := discordfake.New(t)
	th := thread(t, fake)
	for name, f := range map[string]func(){
		"type 0":        func() { fake.AddThread("10", "42", "x", 0) },
		"empty name":    func() { fake.AddThread("10", "42", "", 11) },
		"long name":     func() { fake.AddThread("10", "42", strings.Repeat("é", 101), 11) },
		"no owner":      func() { fake.AddThread("10", "", "x", 11) },
		"thread in one": func() { fake.AddThread(th, "42", "x", 11) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

func TestFailNextAfterEffect(t *testing.T) {
	fake := discordfake.New(t)
	fake.FailNextAfterEffect("POST", "/channels/*/threads", 500, "", 1)
	a := do(t, fake, "POST", "/channels/10/threads", map[string]any{"name": "T", "type": 12}, true)
	if a.status != 500 || a.body["message"] != "500: Internal Server Error" {
		t.Errorf("answer = %d %v, want Discord's 500", a.status, a.body)
	}
	if n := len(fake.Threads()); n != 1 {
		t.Errorf("%d threads, want 1: the create took effect", n)
	}
	if r := fake.Requests(); r[0].Status != 500 {
		t.Errorf("recorded status = %d, want 500", r[0].Status)
	}
	thread(t, fake) // the fault is used up
}

func TestLoseNext(t *testing.T) {
	create := func(fake *discordfake.Server, ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, "POST", fake.URL()+"/channels/10/threads", strings.NewReader(`{"name":"T","type":12}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bot "+fake.Token())
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		return err
	}
	waitHeld := func(fake *discordfake.Server) {
		deadline := time.Now().Add(5 * time.Second)
		for fake.Held() != 1 {
			if time.Now().After(deadline) {
				t.Fatal("no answer held")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Run("dropped", func(t *testing.T) {
		fake := discordfake.New(t)
		fake.LoseNext("POST", "/channels/*/threads", 1)
		done := make(chan error, 1)
		go func() { done <- create(fake, context.Background()) }()
		waitHeld(fake)
		if n := len(fake.Threads()); n != 1 {
			t.Errorf("%d threads while the answer is held, want 1", n)
		}
		if n := fake.DropHeld(); n != 1 {
			t.Errorf("DropHeld = %d, want 1", n)
		}
		if err := <-done; err == nil {
			t.Error("the client got an answer, want the connection closed without one")
		}
		if r := fake.Requests(); len(r) != 1 || r[0].Status != 0 {
			t.Errorf("requests = %+v, want one without a status", r)
		}
		if n := fake.Held(); n != 0 {
			t.Errorf("%d answers still held", n)
		}
		thread(t, fake) // the fault is used up
	})
	t.Run("client gone", func(t *testing.T) {
		fake := discordfake.New(t)
		fake.LoseNext("POST", "/channels/*/threads", 1)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- create(fake, ctx) }()
		waitHeld(fake)
		cancel()
		if err := <-done; err == nil {
			t.Error("the client got an answer")
		}
		deadline := time.Now().Add(5 * time.Second)
		for fake.Held() != 0 {
			if time.Now().After(deadline) {
				t.Fatal("the answer is still held after the client went away")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	t.Run("held at the end of the test", func(t *testing.T) {
		// The fake's cleanup must not wait for the client: it drops the
		// held answer, or this subtest would never end.
		fake := discordfake.New(t)
		fake.LoseNext("POST", "/channels/*/threads", 1)
		go func() { _ = create(fake, context.Background()) }()
		waitHeld(fake)
	})
}
