package config_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sdesk/sdesk/pkg/config"
)

func TestUnknownVars(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		known   []string
		want    []config.UnknownVar
	}{
		{name: "none", environ: []string{"PATH=/bin", "HOME=/root", "SDESK_STORE=bolt", "GITLAB_TOKEN=x", "AWS_REGION=eu-west-1"}},
		{name: "a swap in the prefix", environ: []string{"DISCROD_STAFF_ROLE_ID=1"},
			want: []config.UnknownVar{{Name: "DISCROD_STAFF_ROLE_ID", Closest: "DISCORD_STAFF_ROLE_ID"}}},
		{name: "another prefix, far from every name", environ: []string{"DISCROD_X=1", "GITLAB=1", "SDESK=1"}},
		{name: "no prefix, near a name", environ: []string{"SDESKSTORE=bolt", "GITLAB_TOKN=x"},
			want: []config.UnknownVar{{Name: "GITLAB_TOKN", Closest: "GITLAB_TOKEN"}, {Name: "SDESKSTORE", Closest: "SDESK_STORE"}}},
		{name: "a letter missing", environ: []string{"SDESK_STOR=dynamodb"},
			want: []config.UnknownVar{{Name: "SDESK_STOR", Closest: "SDESK_STORE"}}},
		{name: "a swap after the prefix", environ: []string{"DISCORD_STAFF_ROEL_ID=1"},
			want: []config.UnknownVar{{Name: "DISCORD_STAFF_ROEL_ID", Closest: "DISCORD_STAFF_ROLE_ID"}}},
		{name: "a suffix", environ: []string{"GITLAB_PROJECT_ID=42"},
			want: []config.UnknownVar{{Name: "GITLAB_PROJECT_ID", Closest: "GITLAB_PROJECT"}}},
		{name: "nothing near", environ: []string{"GITLAB_CI=true", "SDESK_X=1"},
			want: []config.UnknownVar{{Name: "GITLAB_CI"}, {Name: "SDESK_X"}}},
		{name: "sorted, once each, values unread", environ: []string{"SDESK_TABEL=a=b", "SDESK_ADRR", "SDESK_TABEL=c"},
			want: []config.UnknownVar{{Name: "SDESK_ADRR", Closest: "SDESK_ADDR"}, {Name: "SDESK_TABEL", Closest: "SDESK_TABLE"}}},
		{name: "known by the caller", environ: []string{"SDESK_HOOK_FILE=/tmp/x", "SDESK_HOOK_FIEL=/tmp/x"}, known: []string{"SDESK_HOOK_FILE"},
			want: []config.UnknownVar{{Name: "SDESK_HOOK_FIEL", Closest: "SDESK_HOOK_FILE"}}},
		{name: "case matters", environ: []string{"sdesk_store=bolt", "Sdesk_Store=bolt"}},
		{name: "lower case after the prefix", environ: []string{"SDESK_store=bolt"},
			want: []config.UnknownVar{{Name: "SDESK_store"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := config.UnknownVars(tt.environ, tt.known...); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("UnknownVars(%q): got %+v, want %+v", tt.environ, got, tt.want)
			}
		})
	}
}

// TestSecretVars: the tokens and the webhook's secret are secrets, and
// nothing else is.
func TestSecretVars(t *testing.T) {
	want := []string{"DISCORD_BOT_TOKEN", "GITLAB_TOKEN", "GITLAB_WEBHOOK_SECRET", "GITLAB_WEBHOOK_SIGNING_TOKEN"}
	var got []string
	for _, v := range config.Vars {
		if v.Secret() {
			got = append(got, v.Name)
		}
		if (strings.Contains(v.Name, "TOKEN") || strings.Contains(v.Name, "SECRET")) != v.Secret() {
			t.Errorf("%s: Secret() is %v", v.Name, v.Secret())
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("secret variables: got %v, want %v", got, want)
	}
}

// osa is the optimal string alignment distance between a and b, as the
// textbook recurrence gives it (the reference for FuzzUnknownVars).
func osa(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// FuzzUnknownVars: of any environment, UnknownVars returns exactly the
// names that are neither in Vars nor known and have one of sdesk's
// prefixes or are at most MaxEdits from a known name, sorted, once each;
// and each one's Closest is the first known name at the least distance
// when that is at most MaxEdits, else "".
func FuzzUnknownVars(f *testing.F) {
	f.Add("DISCROD_STAFF_ROLE_ID=1\nSDESK_STOR=x\nPATH=/bin", "SDESK_HOOK_FILE")
	f.Add("SDESK_=\nGITLAB_\nDISCORD_APPLICATION_ID=1\nSDESK_HOOK_FIEL", "SDESK_HOOK_FILE")
	f.Add("GITLAB_WEBHOOK_SECRT=x\nGITLAB_WEBHOOK_SECRET_TOKEN=y\nSDESK_\xff\x00", "")
	f.Fuzz(func(t *testing.T, environ, extra string) {
		env := strings.Split(environ, "\n")
		var known []string
		if extra != "" {
			known = strings.Split(extra, "\n")
		}
		got := config.UnknownVars(env, known...)

		candidates := []string{}
		isKnown := map[string]bool{}
		for _, v := range config.Vars {
			candidates = append(candidates, v.Name)
			isKnown[v.Name] = true
		}
		for _, k := range known {
			if !isKnown[k] {
				candidates = append(candidates, k)
				isKnown[k] = true
			}
		}
		closestOf := func(name string) (string, int) {
			best, closest := config.MaxEdits(name)+1, ""
			for _, c := range candidates {
				if d := osa(name, c); d < best {
					best, closest = d, c
				}
			}
			return closest, best
		}
		want := map[string]bool{}
		for _, kv := range env {
			name, _, _ := strings.Cut(kv, "=")
			closest, _ := closestOf(name)
			if !isKnown[name] && (closest != "" || strings.HasPrefix(name, "SDESK_") || strings.HasPrefix(name, "DISCORD_") || strings.HasPrefix(name, "GITLAB_")) {
				want[name] = true
			}
		}
		if len(got) != len(want) {
			t.Fatalf("got %d names %+v, want %d %v", len(got), got, len(want), want)
		}
		for i, u := range got {
			if !want[u.Name] {
				t.Errorf("got %q, which is known, has no prefix, or is not set", u.Name)
			}
			if i > 0 && got[i-1].Name >= u.Name {
				t.Errorf("got %q after %q: want sorted, once each", u.Name, got[i-1].Name)
			}
			closest, best := closestOf(u.Name)
			if u.Closest != closest {
				t.Errorf("%q: Closest %q, want %q (distance %d, at most %d)", u.Name, u.Closest, closest, best, config.MaxEdits(u.Name))
			}
		}
	})
}
