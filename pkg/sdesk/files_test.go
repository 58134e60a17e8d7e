package sdesk_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/sdesk/sdesk/pkg/gfm"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

func TestUploadName(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"shot.png", "shot.png"},
		{"app log @all.txt", "app_log__all.txt"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\me\crash.dmp`, "crash.dmp"},
		{".hidden", "file-1.hidden"},
		{"a.b_", "a.b"},
		{"__.png", "file-1.png"},
		{"GL-7.log", "file-1.log"},
		{"@everyone", "everyone"},
		{"скриншот.png", "file-1.png"},
		{"", "file-1"},
		{"#12.txt", "12.txt"},
		{strings.Repeat("a", 150) + ".tar.gz", strings.Repeat("a", 97) + ".gz"},
	} {
		if got := sdesk.UploadName(tt.in, 0); got != tt.want {
			t.Errorf("UploadName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// uploadNameRE is what an upload name may be: GitLab keeps it as it is,
// and sdesk links it from a description without escaping.
var uploadNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// FuzzReportFiles: whatever a file is called, its upload name has
// uploadNameRE's shape and passes the gfm rules, and the files part of a
// description obeys the gfm rules.
func FuzzReportFiles(f *testing.F) {
	for _, s := range []string{"shot.png", "GL-1.png", "/close", "@all", "a&#64;b", "x\u2028/close", "[^1]: x", "<!-- x -->"} {
		f.Add(s, "image/png")
	}
	f.Fuzz(func(t *testing.T, name, typ string) {
		up := sdesk.UploadName(name, 3)
		if !uploadNameRE.MatchString(up) || gfm.Check(up) != nil {
			t.Fatalf("UploadName(%q) = %q: not a safe upload name", name, up)
		}
		md := sdesk.FilesMarkdown([]string{name, name, name}, []string{typ, "text/plain", typ}, []string{"up", "up", "too-large"}, 1<<20)
		if err := gfm.Check(md); err != nil {
			t.Fatalf("files part breaks a gfm rule: %v\n%q", err, md)
		}
	})
}
