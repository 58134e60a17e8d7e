package sdesk_test

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Where GitLab serves the uploads of project 4242 (acme/support): since
// 17.2 under its ID (idForm), before under its path (project).
const (
	idForm        = "https://gitlab.example.com/-/project/4242"
	rootedProject = "https://example.com/gitlab/acme/support"
	rootedIDForm  = "https://example.com/gitlab/-/project/4242"
)

// TestRenderNoteUploadForms: upload links are written in the form the
// configured GitLab serves, whichever form the note used; links in either
// form of this project stay sdesk's masked file links (issue 13).
func TestRenderNoteUploadForms(t *testing.T) {
	newUp := idForm + "/uploads/" + secret1 + "/"
	oldUp := project + "/uploads/" + secret1 + "/"
	id := sdesk.NoteLinks{Project: project, Uploads: idForm}
	tests := []struct {
		name  string
		links sdesk.NoteLinks
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
		{"trailing slashes", sdesk.NoteLinks{Project: project + "/", Uploads: idForm + "/"},
			"![](/uploads/" + secret1 + "/a.png)", "[a.png](" + newUp + "a.png)"},

		// A relative URL root stays in front of every form.
		{"rooted relative path form", sdesk.NoteLinks{Project: rootedProject, Uploads: rootedIDForm},
			"![](/uploads/" + secret1 + "/a.png)", "[a.png](" + rootedIDForm + "/uploads/" + secret1 + "/a.png)"},
		{"rooted relative ID form without the root", sdesk.NoteLinks{Project: rootedProject, Uploads: rootedIDForm},
			"![](/-/project/4242/uploads/" + secret1 + "/a.png)", "[a.png](" + rootedIDForm + "/uploads/" + secret1 + "/a.png)"},
		{"rooted relative ID form with the root", sdesk.NoteLinks{Project: rootedProject, Uploads: rootedIDForm},
			"![](/gitlab/-/project/4242/uploads/" + secret1 + "/a.png)", "[a.png](" + rootedIDForm + "/uploads/" + secret1 + "/a.png)"},

		// Before 17.2: the path form.
		{"path form", sdesk.NoteLinks{Project: project, Uploads: project},
			"![shot](/uploads/" + secret1 + "/shot.png)", "[shot.png](" + oldUp + "shot.png)"},
		{"no uploads URL", sdesk.NoteLinks{Project: project},
			"![shot](/uploads/" + secret1 + "/shot.png)", "[shot.png](" + oldUp + "shot.png)"},

		// An uploads URL a masked link could not hold is not used.
		{"uploads URL with a query", sdesk.NoteLinks{Project: project, Uploads: idForm + "?a=1"},
			"![](/uploads/" + secret1 + "/a.png)", "[a.png](" + oldUp + "a.png)"},
		{"uploads URL with a parenthesis", sdesk.NoteLinks{Project: project, Uploads: "https://gitlab.example.com/-/project/(1)"},
			"![](/uploads/" + secret1 + "/a.png)", "[a.png](" + oldUp + "a.png)"},
		{"uploads URL not http", sdesk.NoteLinks{Project: project, Uploads: "ftp://gitlab.example.com/-/project/4242"},
			"![](/uploads/" + secret1 + "/a.png)", "[a.png](" + oldUp + "a.png)"},
		{"uploads URL without a project URL", sdesk.NoteLinks{Uploads: idForm},
			"![](/uploads/" + secret1 + "/a.png) /acme/support/-/issues/3", "[a.png](" + newUp + "a.png) /acme/support/-/issues/3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sdesk.RenderNoteWith(tt.in, tt.links)
			if got != tt.want {
				t.Errorf("RenderNoteWith(%q, %+v)\ngot  %q\nwant %q", tt.in, tt.links, got, tt.want)
			}
			checkNoteForDiscord(t, tt.in, got, tt.links.Project, tt.links.Uploads)
		})
	}
}

// TestRenderNoteIsPathForm: RenderNote is RenderNoteWith with the uploads
// under the project's path.
func TestRenderNoteIsPathForm(t *testing.T) {
	in := "![shot](/uploads/" + secret1 + "/shot.png) [b](/-/project/4242/uploads/" + secret2 + "/b.pdf)"
	got := sdesk.RenderNote(in, project)
	for _, links := range []sdesk.NoteLinks{{Project: project}, {Project: project, Uploads: project}} {
		if want := sdesk.RenderNoteWith(in, links); got != want {
			t.Errorf("RenderNote(%q) = %q, want RenderNoteWith(%+v) = %q", in, got, links, want)
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
		want []sdesk.UploadRef
	}{
		{"relative path form", "![a](/uploads/" + secret1 + "/a.png)", []sdesk.UploadRef{{Secret: secret1, Filename: "a.png", Alt: "a"}}},
		{"relative ID form", "![a](/-/project/4242/uploads/" + secret1 + "/a.png)", []sdesk.UploadRef{{Secret: secret1, Filename: "a.png", Alt: "a"}}},
		{"relative project path form", "[b](/acme/support/uploads/" + secret2 + "/b%20c.pdf)", []sdesk.UploadRef{{Secret: secret2, Filename: "b c.pdf", Alt: "b"}}},
		{"absolute path form", "[b](" + project + "/uploads/" + secret2 + "/b.pdf)", []sdesk.UploadRef{{Secret: secret2, Filename: "b.pdf", Alt: "b"}}},
		{"absolute ID form", "[b](" + idForm + "/uploads/" + secret2 + "/b.pdf)", []sdesk.UploadRef{{Secret: secret2, Filename: "b.pdf", Alt: "b"}}},
		{"absolute rooted ID form", "![c](" + rootedIDForm + "/uploads/" + secret3 + "/c.png)", []sdesk.UploadRef{{Secret: secret3, Filename: "c.png", Alt: "c"}}},
		{"html ID form", `<img src="/-/project/4242/uploads/` + secret1 + `/h.png" alt="h"> <a href="` + idForm + `/uploads/` + secret2 + `/f.pdf">f</a>`,
			[]sdesk.UploadRef{{Secret: secret1, Filename: "h.png", Alt: "h"}, {Secret: secret2, Filename: "f.pdf", Alt: "f"}}},
		{"one file in both forms is one upload", "![a](/uploads/" + secret1 + "/a.png) ![again](" + idForm + "/uploads/" + secret1 + "/a.png)",
			[]sdesk.UploadRef{{Secret: secret1, Filename: "a.png", Alt: "a"}}},
		{"ID form in code is ignored", "`![a](/-/project/4242/uploads/" + secret1 + "/a.png)`", nil},
		{"ID form with a short secret is not an upload", "![a](/-/project/4242/uploads/abc/a.png)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sdesk.Uploads(tt.body); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Uploads(%q)\ngot  %+v\nwant %+v", tt.body, got, tt.want)
			}
		})
	}
}

// FuzzRenderNoteWith states, for any note and any pair of URLs, the rules
// of FuzzRenderNote (valid UTF-8 in, valid UTF-8 out; no placeholder
// leaked; no masked link hides its target, except sdesk's file links under
// either URL; no Discord markup; the same for each part SplitText makes of
// it) and that RenderNote is RenderNoteWith without an uploads URL.
func FuzzRenderNoteWith(f *testing.F) {
	f.Add("![x](/uploads/"+secret1+"/x.png) ![y](/-/project/4242/uploads/"+secret2+"/y.png) /-/profile", project, idForm)
	f.Add("[b](/gitlab/-/project/4242/uploads/"+secret1+"/b(1).png) [c]("+rootedIDForm+"/uploads/"+secret2+"/c.png)", rootedProject, rootedIDForm)
	f.Add("<img src=\"/-/project/4242/uploads/"+secret1+"/%EE%80%800%EE%80%81.png\"> `c` [](%80)", project, idForm+"/")
	f.Add("![](/uploads/"+secret1+"/a.png) <@1> ||s||", project, "https://h.example/-/project/1)")
	f.Fuzz(func(t *testing.T, body, projectURL, uploadsURL string) {
		if len(body) > 2048 {
			return
		}
		links := sdesk.NoteLinks{Project: projectURL, Uploads: uploadsURL}
		out := sdesk.RenderNoteWith(body, links)
		if utf8.ValidString(body) && utf8.ValidString(projectURL) && utf8.ValidString(uploadsURL) && !utf8.ValidString(out) {
			t.Fatalf("RenderNoteWith(%q, %+v) = %q: not valid UTF-8", body, links, out)
		}
		for _, r := range "\uE000\uE001" {
			if !strings.ContainsRune(body+projectURL+uploadsURL, r) && strings.ContainsRune(out, r) {
				t.Fatalf("RenderNoteWith(%q, %+v) = %q: leaked a placeholder", body, links, out)
			}
		}
		checkNoteForDiscord(t, body, out, projectURL, uploadsURL)
		max := 64 + len(body)%64
		chunks := sdesk.SplitText(out, max)
		checkSplit(t, out, max, chunks)
		checkChunksForDiscord(t, body, out, max, chunks, projectURL, uploadsURL)
		if got, want := sdesk.RenderNoteWith(body, sdesk.NoteLinks{Project: projectURL}), sdesk.RenderNote(body, projectURL); got != want {
			t.Fatalf("RenderNoteWith(%q, {Project: %q}) = %q, want RenderNote's %q", body, projectURL, got, want)
		}
	})
}
