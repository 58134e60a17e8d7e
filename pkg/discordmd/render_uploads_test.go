package discordmd_test

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sdesk/sdesk/pkg/discordmd"
)

// Where GitLab serves the uploads of project 4242 (acme/support): since
// 17.2 under its ID (idForm), before under its path (project).
const (
	idForm        = "https://gitlab.example.com/-/project/4242"
	rootedProject = "https://example.com/gitlab/acme/support"
	rootedIDForm  = "https://example.com/gitlab/-/project/4242"
)

// TestRenderUploadForms: upload links are written in the form the
// configured GitLab serves, whichever form the note used; links in either
// form of this project stay sdesk's masked file links (issue 13).
func TestRenderUploadForms(t *testing.T) {
	newUp := idForm + "/uploads/" + secret1 + "/"
	oldUp := project + "/uploads/" + secret1 + "/"
	id := discordmd.Links{Project: project, Uploads: idForm}
	tests := []struct {
		name  string
		links discordmd.Links
		in    string
		want  string
	}{
		// GitLab 17.2 and later: the ID form.
		{"relative path form", id, "![shot](/uploads/" + secret1 + "/shot.png)", "[shot.png](" + newUp + "shot.png)"},
		{"relative ID form", id, "![shot](/-/project/4242/uploads/" + secret1 + "/shot.png)", "[shot.png](" + newUp + "shot.png)"},
		{"absolute ID form", id, "[log](" + newUp + "app.log)", "log ([app.log](" + newUp + "app.log))"},
		{"absolute path form stays", id, "[log](" + oldUp + "app.log)", "log ([app.log](" + oldUp + "app.log))"},
		{"bare relative path form", id, "file: /uploads/" + secret1 + "/a.txt", "file: " + newUp + "a.txt"},
		{"bare relative ID form", id, "file: /-/project/4242/uploads/" + secret1 + "/a.txt", "file: " + newUp + "a.txt"},
		{"html img in ID form", id, `<img src="/-/project/4242/uploads/` + secret1 + `/a.png" alt="diagram">`, "diagram ([a.png](" + newUp + "a.png))"},
		{"reference definition", id, "[ref]: /uploads/" + secret1 + "/r.zip", `\[ref]: ` + newUp + "r.zip"},
		{"another project's ID form", id, "![a](/-/project/99/uploads/" + secret1 + "/a.png)",
			"a (<https://gitlab.example.com/-/project/99/uploads/" + secret1 + "/a.png>)"},
		{"another project's absolute ID form", id, "[a.png](https://gitlab.example.com/-/project/42/uploads/" + secret1 + "/a.png)",
			"a.png (<https://gitlab.example.com/-/project/42/uploads/" + secret1 + "/a.png>)"},
		{"other GitLab paths under the origin", id, "/acme/support/-/issues/3", "https://gitlab.example.com/acme/support/-/issues/3"},
		{"bare instance path", id, "see /-/profile", "see https://gitlab.example.com/-/profile"},
		{"trailing slashes", discordmd.Links{Project: project + "/", Uploads: idForm + "/"},
			"![](/uploads/" + secret1 + "/a.png)", "[a.png](" + newUp + "a.png)"},

		// A relative URL root stays in front of every form.
		{"rooted relative path form", discordmd.Links{Project: rootedProject, Uploads: rootedIDForm},
			"![](/uploads/" + secret1 + "/a.png)", "[a.png](" + rootedIDForm + "/uploads/" + secret1 + "/a.png)"},
		{"rooted relative ID form without the root", discordmd.Links{Project: rootedProject, Uploads: rootedIDForm},
			"![](/-/project/4242/uploads/" + secret1 + "/a.png)", "[a.png](" + rootedIDForm + "/uploads/" + secret1 + "/a.png)"},
		{"rooted relative ID form with the root", discordmd.Links{Project: rootedProject, Uploads: rootedIDForm},
			"![](/gitlab/-/project/4242/uploads/" + secret1 + "/a.png)", "[a.png](" + rootedIDForm + "/uploads/" + secret1 + "/a.png)"},

		// Before 17.2: the path form.
		{"path form", discordmd.Links{Project: project, Uploads: project},
			"![shot](/uploads/" + secret1 + "/shot.png)", "[shot.png](" + oldUp + "shot.png)"},
		{"no uploads URL", discordmd.Links{Project: project},
			"![shot](/uploads/" + secret1 + "/shot.png)", "[shot.png](" + oldUp + "shot.png)"},

		// An uploads URL a masked link could not hold is not used.
		{"uploads URL with a query", discordmd.Links{Project: project, Uploads: idForm + "?a=1"},
			"![](/uploads/" + secret1 + "/a.png)", "[a.png](" + oldUp + "a.png)"},
		{"uploads URL with a parenthesis", discordmd.Links{Project: project, Uploads: "https://gitlab.example.com/-/project/(1)"},
			"![](/uploads/" + secret1 + "/a.png)", "[a.png](" + oldUp + "a.png)"},
		{"uploads URL not http", discordmd.Links{Project: project, Uploads: "ftp://gitlab.example.com/-/project/4242"},
			"![](/uploads/" + secret1 + "/a.png)", "[a.png](" + oldUp + "a.png)"},
		{"uploads URL without a project URL", discordmd.Links{Uploads: idForm},
			"![](/uploads/" + secret1 + "/a.png) /acme/support/-/issues/3", "[a.png](" + newUp + "a.png) /acme/support/-/issues/3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := discordmd.RenderWith(tt.in, tt.links)
			if got != tt.want {
				t.Errorf("RenderWith(%q, %+v)\ngot  %q\nwant %q", tt.in, tt.links, got, tt.want)
			}
			checkNoteForDiscord(t, tt.in, got, tt.links.Project, tt.links.Uploads)
		})
	}
}

// TestRenderIsPathForm: Render is RenderWith with the uploads
// under the project's path.
func TestRenderIsPathForm(t *testing.T) {
	in := "![shot](/uploads/" + secret1 + "/shot.png) [b](/-/project/4242/uploads/" + secret2 + "/b.pdf)"
	got := discordmd.Render(in, project)
	for _, links := range []discordmd.Links{{Project: project}, {Project: project, Uploads: project}} {
		if want := discordmd.RenderWith(in, links); got != want {
			t.Errorf("Render(%q) = %q, want RenderWith(%+v) = %q", in, got, links, want)
		}
	}
}

// TestUploadsBothForms: the uploads a note links to are found in the
// project-path and the project-ID forms, relative or absolute, and are
// downloaded by secret and file name whichever form named them.
func TestUploadsBothForms(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []discordmd.UploadRef
	}{
		{"relative path form", "![a](/uploads/" + secret1 + "/a.png)", []discordmd.UploadRef{{Secret: secret1, Filename: "a.png", Alt: "a"}}},
		{"relative ID form", "![a](/-/project/4242/uploads/" + secret1 + "/a.png)", []discordmd.UploadRef{{Secret: secret1, Filename: "a.png", Alt: "a"}}},
		{"relative project path form", "[b](/acme/support/uploads/" + secret2 + "/b%20c.pdf)", []discordmd.UploadRef{{Secret: secret2, Filename: "b c.pdf", Alt: "b"}}},
		{"absolute path form", "[b](" + project + "/uploads/" + secret2 + "/b.pdf)", []discordmd.UploadRef{{Secret: secret2, Filename: "b.pdf", Alt: "b"}}},
		{"absolute ID form", "[b](" + idForm + "/uploads/" + secret2 + "/b.pdf)", []discordmd.UploadRef{{Secret: secret2, Filename: "b.pdf", Alt: "b"}}},
		{"absolute rooted ID form", "![c](" + rootedIDForm + "/uploads/" + secret3 + "/c.png)", []discordmd.UploadRef{{Secret: secret3, Filename: "c.png", Alt: "c"}}},
		{"html ID form", `<img src="/-/project/4242/uploads/` + secret1 + `/h.png" alt="h"> <a href="` + idForm + `/uploads/` + secret2 + `/f.pdf">f</a>`,
			[]discordmd.UploadRef{{Secret: secret1, Filename: "h.png", Alt: "h"}, {Secret: secret2, Filename: "f.pdf", Alt: "f"}}},
		{"one file in both forms is one upload", "![a](/uploads/" + secret1 + "/a.png) ![again](" + idForm + "/uploads/" + secret1 + "/a.png)",
			[]discordmd.UploadRef{{Secret: secret1, Filename: "a.png", Alt: "a"}}},
		{"ID form in code is ignored", "`![a](/-/project/4242/uploads/" + secret1 + "/a.png)`", nil},
		{"ID form with a short secret is not an upload", "![a](/-/project/4242/uploads/abc/a.png)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := discordmd.Uploads(tt.body); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Uploads(%q)\ngot  %+v\nwant %+v", tt.body, got, tt.want)
			}
		})
	}
}

// FuzzRenderWith states, for any note and any pair of URLs, the rules
// of FuzzRender (valid UTF-8 in, valid UTF-8 out; no placeholder
// leaked; no masked link hides its target, except sdesk's file links under
// either URL; no Discord markup; the same for each part Split makes of
// it) and that Render is RenderWith without an uploads URL.
func FuzzRenderWith(f *testing.F) {
	f.Add("![x](/uploads/"+secret1+"/x.png) ![y](/-/project/4242/uploads/"+secret2+"/y.png) /-/profile", project, idForm)
	f.Add("[b](/gitlab/-/project/4242/uploads/"+secret1+"/b(1).png) [c]("+rootedIDForm+"/uploads/"+secret2+"/c.png)", rootedProject, rootedIDForm)
	f.Add("<img src=\"/-/project/4242/uploads/"+secret1+"/%EE%80%800%EE%80%81.png\"> `c` [](%80)", project, idForm+"/")
	f.Add("![](/uploads/"+secret1+"/a.png) <@1> ||s||", project, "https://h.example/-/project/1)")
	f.Fuzz(func(t *testing.T, body, projectURL, uploadsURL string) {
		if len(body) > 2048 {
			return
		}
		links := discordmd.Links{Project: projectURL, Uploads: uploadsURL}
		out := discordmd.RenderWith(body, links)
		if utf8.ValidString(body) && utf8.ValidString(projectURL) && utf8.ValidString(uploadsURL) && !utf8.ValidString(out) {
			t.Fatalf("RenderWith(%q, %+v) = %q: not valid UTF-8", body, links, out)
		}
		for _, r := range "\uE000\uE001" {
			if !strings.ContainsRune(body+projectURL+uploadsURL, r) && strings.ContainsRune(out, r) {
				t.Fatalf("RenderWith(%q, %+v) = %q: leaked a placeholder", body, links, out)
			}
		}
		checkNoteForDiscord(t, body, out, projectURL, uploadsURL)
		max := 64 + len(body)%64
		chunks := discordmd.Split(out, max)
		checkSplit(t, out, max, chunks)
		checkChunksForDiscord(t, body, out, max, chunks, projectURL, uploadsURL)
		if got, want := discordmd.RenderWith(body, discordmd.Links{Project: projectURL}), discordmd.Render(body, projectURL); got != want {
			t.Fatalf("RenderWith(%q, {Project: %q}) = %q, want Render's %q", body, projectURL, got, want)
		}
	})
}
