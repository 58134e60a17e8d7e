package discord_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/discord"
	"github.com/sdesk/sdesk/pkg/gitlab"
	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// ann is the member of the router tests' interactions (member in
// router_test.go), the reporter of mapThread's issue 3.
const ann = "1200000000000000007"

func definition(t *testing.T, name string) map[string]any {
	t.Helper()
	for _, c := range discord.Commands {
		if c.Def.CommandName() == name {
			b, err := json.Marshal(c.Def)
			if err != nil {
				t.Fatal(err)
			}
			var def map[string]any
			if err := json.Unmarshal(b, &def); err != nil {
				t.Fatal(err)
			}
			return def
		}
	}
	t.Fatalf("no command %q in the registry", name)
	return nil
}

// TestManageCommandDefinitions: the commands of issue 10 as Discord
// registers them: /close [reason] [issue], /reopen [issue], /status
// [issue] with an autocompleted integer issue option, /issues [all], and
// /panel for members with Manage Server (permission bit 1<<5) by default.
func TestManageCommandDefinitions(t *testing.T) {
	issue := map[string]any{"type": 4.0, "name": "issue", "autocomplete": true, "min_value": 1.0}
	tests := []struct {
		name string
		want []map[string]any
	}{
		{"close", []map[string]any{{"type": 3.0, "name": "reason", "max_length": 1000.0}, issue}},
		{"reopen", []map[string]any{issue}},
		{"status", []map[string]any{issue}},
		{"issues", []map[string]any{{"type": 5.0, "name": "all"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := definition(t, tt.name)
			opts, _ := def["options"].([]any)
			if len(opts) != len(tt.want) {
				t.Fatalf("options: got %v, want %d", opts, len(tt.want))
			}
			for i, want := range tt.want {
				got := opts[i].(map[string]any)
				for k, v := range want {
					if !reflect.DeepEqual(got[k], v) {
						t.Errorf("option %d %s: got %v, want %v", i, k, got[k], v)
					}
				}
				if got["required"] == true {
					t.Errorf("option %d: required, want optional", i)
				}
			}
			if _, ok := def["default_member_permissions"]; ok {
				t.Errorf("default_member_permissions: got %v, want none (every member)", def["default_member_permissions"])
			}
		})
	}
	if got := definition(t, "panel")["default_member_permissions"]; got != "32" {
		t.Errorf("/panel default_member_permissions: got %v, want \"32\" (Manage Server)", got)
	}
}

func (e *routerEnv) mapMore(t *testing.T, n int) {
	t.Helper()
	for k := range n {
		iid := 10 + k
		err := e.router.Service.Store.PutMapping(context.Background(), sdesk.Mapping{IssueIID: iid, IssueURL: "https://gitlab.example.com/g/p/-/issues/" + strconv.Itoa(iid),
			ThreadID: strconv.Itoa(1250000000000000000 + iid), GuildID: "1200000000000000005", ChannelID: "1200000000000000002", ReporterID: ann,
			Title: fmt.Sprintf("Report %d", iid), CreatedAt: time.Now().Add(time.Duration(k) * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestAutocompleteIssue(t *testing.T) {
	e := newRouter(t, nil)
	e.mapThread(t)
	e.mapMore(t, 30)
	tests := []struct {
		name, value string
		want        []float64
	}{
		{"typed as a string", `"12"`, []float64{12}},
		{"typed as a number", `12`, []float64{12}},
		{"a title word", `"report 2"`, []float64{29, 28, 27, 26, 25, 24, 23, 22, 21, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"id":"1300000000000000050","type":4,"token":"t",` + member + `,"data":{"id":"1","name":"status","type":1,"options":[{"name":"issue","type":4,"value":` + tt.value + `,"focused":true}]}}`
			a, raw := interact(t, e.router, body)
			if a.Type != 8 {
				t.Fatalf("answer: got %s, want type 8", raw)
			}
			var got []float64
			for _, c := range a.Data.Choices {
				got = append(got, c.Value.(float64))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("choices: got %v, want %v (%s)", got, tt.want, raw)
			}
		})
	}
	body := `{"id":"1300000000000000051","type":4,"token":"t",` + member + `,"data":{"id":"1","name":"close","type":1,"options":[{"name":"issue","type":4,"value":"","focused":true}]}}`
	if a, raw := interact(t, e.router, body); len(a.Data.Choices) != sdesk.MaxChoices {
		t.Errorf("an empty autocomplete of 31 reports: got %d choices, want %d (%s)", len(a.Data.Choices), sdesk.MaxChoices, raw)
	}
}

func TestIssuesPages(t *testing.T) {
	e := newRouter(t, nil)
	e.mapMore(t, 12)
	a, raw := interact(t, e.router, `{"id":"1300000000000000052","type":2,"token":"t",`+member+`,"data":{"id":"1","name":"issues","type":1}}`)
	if a.Type != 4 || a.Data.Flags&64 == 0 || !strings.Contains(a.Data.Content, "#21**") || strings.Contains(a.Data.Content, "#11**") {
		t.Fatalf("/issues: got %s, want an ephemeral first page, newest first", raw)
	}
	ids := customIDs(a.Data.Components)
	if !reflect.DeepEqual(ids, []string{"issues/0", "issues/1"}) {
		t.Errorf("/issues buttons: got %v, want [issues/0 issues/1]", ids)
	}
	a, raw = interact(t, e.router, `{"id":"1300000000000000053","type":3,"token":"t",`+member+`,"message":{"id":"1","channel_id":"1"},"data":{"custom_id":"issues/1","component_type":2}}`)
	if a.Type != 7 || !strings.Contains(a.Data.Content, "#11**") || !strings.Contains(a.Data.Content, "page 2") {
		t.Errorf("older page: got %s, want an update (7) with page 2", raw)
	}
	a, raw = interact(t, e.router, `{"id":"1300000000000000054","type":3,"token":"t",`+member+`,"message":{"id":"1","channel_id":"1"},"data":{"custom_id":"issues/all/0","component_type":2}}`)
	if a.Type != 4 || a.Data.Flags&64 == 0 || !strings.Contains(a.Data.Content, "Only staff") {
		t.Errorf("all reports by a member: got %s, want an ephemeral refusal", raw)
	}
}

func customIDs(rows []map[string]any) []string {
	var out []string
	for _, row := range rows {
		cs, _ := row["components"].([]any)
		for _, c := range cs {
			if id, ok := c.(map[string]any)["custom_id"].(string); ok {
				out = append(out, id)
			}
		}
	}
	return out
}

// TestPanelButtonOpensTheForm: the panel's button is routed by its custom
// ID alone, so a fresh router (a restart, a redeploy) opens the form.
func TestPanelButtonOpensTheForm(t *testing.T) {
	e := newRouter(t, nil)
	a, raw := interact(t, e.router, `{"id":"1300000000000000055","type":3,"token":"t",`+member+`,"message":{"id":"1","channel_id":"1"},"data":{"custom_id":"`+sdesk.RoutePanelReport+`","component_type":2}}`)
	if a.Type != 9 || a.Data.CustomID != sdesk.RouteReportModal {
		t.Errorf("panel button: got %s, want the report modal", raw)
	}
	gf := gitlabfake.New(t)
	gc, err := gitlab.NewClient(gitlab.ClientConfig{BaseURL: gf.URL(), Token: gf.Token(), Project: gf.ProjectPath()})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := gc.CreateIssue(context.Background(), sdesk.NewIssue{Title: "Jams", Description: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	e.router.Service.GitLab = gc // GitLab confirms that #3 is open
	e.router.Service.MaxOpenReports = 1
	e.mapThread(t)
	a, raw = interact(t, e.router, `{"id":"1300000000000000056","type":3,"token":"t",`+member+`,"message":{"id":"1","channel_id":"1"},"data":{"custom_id":"`+sdesk.RoutePanelReport+`","component_type":2}}`)
	if a.Type != 4 || a.Data.Flags&64 == 0 || !strings.Contains(a.Data.Content, "#3**") {
		t.Errorf("panel button over the limit: got %s, want an ephemeral refusal naming #3", raw)
	}
}
