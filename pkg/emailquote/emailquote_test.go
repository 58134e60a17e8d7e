package emailquote_test

import (
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/sdesk/sdesk/pkg/emailquote"
)

const (
	secret1 = "0123456789abcdef0123456789abcdef"
	secret2 = "fedcba9876543210fedcba9876543210"
)

func TestStrip(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no quote", "Just text\n\n", "Just text"},
		{"gmail", "Thanks, that worked!\n\nOn Thu, 22 Apr 2021 at 21:04, Jane Doe <jane@example.com> wrote:\n" +
			"> Could you try restarting?\n> \n> GitLab Support\n", "Thanks, that worked!"},
		{"gmail wrapped", "Sure.\n\nOn Thu, 22 Apr 2021 at 21:04, Jane Doe <\njane@example.com> wrote:\n\n> hi\n", "Sure."},
		{"gmail unquoted tail", "Ok\nOn Thu, 22 Apr 2021 at 21:04, GitLab <support@example.com> wrote:\nold text", "Ok"},
		{"german", "Danke!\n\nAm 22.04.2021 um 21:04 schrieb Jane Doe <jane@example.com>:\n> Hallo", "Danke!"},
		{"french", "Merci\n\nLe jeu. 22 avr. 2021 à 21:04, Jane Doe <jane@example.com> a écrit\u00a0:\n> Bonjour", "Merci"},
		{"original message", "See below.\n\n-----Original Message-----\nFrom: Support <s@example.com>\nSent: Thursday\n\nold", "See below."},
		{"outlook", "Works now.\n\nFrom: GitLab Support <support@example.com>\nSent: Thursday, April 22, 2021 9:04 PM\n" +
			"To: Jane Doe <jane@example.com>\nSubject: Re: Login broken (#6)\n\nHello Jane", "Works now."},
		{"outlook bold", "Works.\n\n**From:** GitLab <support@example.com>\n**Sent:** Thursday\n", "Works."},
		{"underscores", "OK\n\n________________________________\nFrom: x\nold", "OK"},
		{"signature", "Hi,\nthe app crashes again.\n\n-- \nJane Doe\nACME Inc.", "Hi,\nthe app crashes again."},
		{"trailing quote", "Yes please.\n\n> Should we close this?\n>\n> Bob\n", "Yes please."},
		{"inline reply kept", "On Thu, 22 Apr 2021 at 21:04, Bob <bob@example.com> wrote:\n> Which version?\n2.3.1\n> Which OS?\nLinux",
			"On Thu, 22 Apr 2021 at 21:04, Bob <bob@example.com> wrote:\n> Which version?\n2.3.1\n> Which OS?\nLinux"},
		{"inline reply trailing quote", "Answers below.\n\n> Which version?\n2.3.1\n\n> Anything else?\n",
			"Answers below.\n\n> Which version?\n2.3.1"},
		{"middle quote kept", "> earlier point\nI disagree.", "> earlier point\nI disagree."},
		{"only quote", "> just a quote\n", "> just a quote\n"},
		{"only signature", "-- \nJane", "-- \nJane"},
		{"only whitespace", " \n\t", " \n\t"},
		{"attribution without date", "On second thought, as I wrote:\nthe fix works", "On second thought, as I wrote:\nthe fix works"},
		{"dash dash without space", "a\n--\nb", "a\n--\nb"},
		{"forwarded kept", "FYI\n\n---------- Forwarded message ---------\nFrom: Bob <bob@example.com>\nDate: Thu, 22 Apr 2021\nSubject: x\n\nbody",
			"FYI\n\n---------- Forwarded message ---------\nFrom: Bob <bob@example.com>\nDate: Thu, 22 Apr 2021\nSubject: x\n\nbody"},
		{"crlf", "Thanks\r\n\r\nOn Thu, 22 Apr 2021 at 21:04, Jane <j@example.com> wrote:\r\n> x\r\n", "Thanks"},
		{"signature after quote", "Fine.\n> q\n-- \nsig", "Fine."},
		// The shape of a Service Desk reply sent from Zoho Mail: the quote
		// marker sits on the first line, after the new text.
		{"zoho", "Thanks, it works now ---- On Mo, 12 May 2024 09:15:00 +0200  gitlab@mg.gitlab.example.com  wrote ----\n\n\n\n" +
			"div.zm_1234_parse_-5678 img { max-width: 100%; height: auto }\n\n\n\n" +
			"Please try clearing the cache.\n\n\n—\n\nUnsubscribe\n\n![logo](/uploads/" + secret1 + "/logo.png)",
			"Thanks, it works now"},
		{"support bot reply", "Hello,\n\nthe export still fails with error 500, see the attached screenshot.\n\n" +
			"![export](/uploads/" + secret2 + "/export.png)\n\nBest regards\nJane\n\n" +
			"On Thu, 22 Apr 2021 at 21:04, Jane Doe <jane@example.com> wrote:\n\n" +
			"> Hello Jane,\n>\n> could you send us a screenshot of the error?\n>\n> -- \n> Reply to this email directly or view it on GitLab: https://gitlab.example.com/acme/support/-/issues/6\n",
			"Hello,\n\nthe export still fails with error 500, see the attached screenshot.\n\n" +
				"![export](/uploads/" + secret2 + "/export.png)\n\nBest regards\nJane"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := emailquote.Strip(tt.in); got != tt.want {
				t.Errorf("Strip(%q)\ngot  %q,\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzStrip states what Strip may do to any body: give it back unchanged,
// or cut it to a prefix of itself that is not blank, ends without white
// space and that Strip leaves as it is (the rules were applied until
// nothing changed).
func FuzzStrip(f *testing.F) {
	f.Add("Thanks!\n\nOn Thu, 22 Apr 2021 at 21:04, Jane Doe <jane@example.com> wrote:\n> hi\n")
	f.Add("Sure.\n\nOn Thu, 22 Apr 2021 at 21:04, Jane Doe <jane@example.com> wrote:\n> hi\n> -- \n> sig")
	f.Add("On Thu, 22 Apr 2021 at 21:04, Bob <bob@example.com> wrote:\n> Which version?\n2.3.1\n> Which OS?\nLinux")
	f.Add("Works.\n\n**From:** GitLab <support@example.com>\n**Sent:** Thursday\n")
	f.Add("FYI\n\n---------- Forwarded message ---------\nFrom: Bob <bob@example.com>\nDate: Thu, 22 Apr 2021\n\nbody")
	f.Add("ok ---- On Mo, 12 May 2024 09:15:00 +0200  x@example.com  wrote ----\n\nold")
	f.Add("> only a quote\n")
	f.Add("-- \nJane")
	f.Add("a\n\n> q\n\n-- \nsig")
	f.Add("a\r\n\r\n-----Original Message-----\r\nold\r\n")
	f.Fuzz(func(t *testing.T, body string) {
		if len(body) > 4096 {
			return
		}
		out := emailquote.Strip(body)
		if out == body {
			return
		}
		switch {
		case !strings.HasPrefix(body, out):
			t.Fatalf("Strip(%q) = %q: not a prefix of the body", body, out)
		case strings.TrimSpace(out) == "":
			t.Fatalf("Strip(%q) = %q: blank, want the body back", body, out)
		case strings.TrimRightFunc(out, unicode.IsSpace) != out:
			t.Fatalf("Strip(%q) = %q: ends with white space", body, out)
		}
		if again := emailquote.Strip(out); again != out {
			t.Fatalf("Strip(%q) = %q, but Strip(%q) = %q: the rules were not applied until nothing changed", body, out, out, again)
		}
	})
}

// Service Desk lets anyone send a note body by e-mail: hostile shapes must
// not make Strip quadratic. (The shapes of discordmd's hostile-input test,
// whose "attributions" is this package's own.)
func TestStripHostileInputs(t *testing.T) {
	var ticks strings.Builder
	for n := 1; ticks.Len() < 50_000; n++ {
		ticks.WriteString(strings.Repeat("`", n) + " x ")
	}
	inputs := map[string]string{
		"attributions":         strings.Repeat("On Thu, 22 Apr 2021, Jane <j@example.com> wrote:\n> q\nanswer\n", 800),
		"wrapped attributions": strings.Repeat("On Thu, 22 Apr 2021, Jane <\nj@example.com> wrote:\n> q\nanswer\n", 800),
		"outlook headers":      strings.Repeat("From: a\nx\nx\nx\nx\nSent: b\n", 2_000),
		"from lines":           strings.Repeat("From: a\n", 10_000),
		"quoted lines":         strings.Repeat("> q\n", 12_000) + "answer",
		"zoho markers":         strings.Repeat("---- On x wrote ", 5_000),
		"unclosed comments":    strings.Repeat("<!--", 12_000),
		"backtick runs":        ticks.String(),
		"fences":               strings.Repeat("```\n", 12_000),
		"long line":            strings.Repeat("x", 50_000),
		"blank lines":          strings.Repeat("\n \t\n", 12_000) + "x",
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			emailquote.Strip(in)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("%s took %v", name, d)
			}
		})
	}
}
