package config_test

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/sdesk/sdesk/pkg/config"
)

// TestConfigRefusesAddrServeCannotListenOn is the reviewer's demonstration
// of issue 11: `sdesk config` said "configuration OK" for an SDESK_ADDR that
// `sdesk serve` then could not listen on ("listen tcp: address 8080:
// missing port in address"). Load validates it as serve needs it.
func TestConfigRefusesAddrServeCannotListenOn(t *testing.T) {
	base := map[string]string{
		"DISCORD_APPLICATION_ID":     "1200000000000000001",
		"DISCORD_PUBLIC_KEY":         "039b9cb32987bce8473af0f17e923c51e5a6b9d7d3d96ca44ac78b93fda535f1",
		"DISCORD_BOT_TOKEN":          "dev-bot-token",
		"DISCORD_SUPPORT_CHANNEL_ID": "1200000000000000002",
		"GITLAB_TOKEN":               "dev-gitlab-token",
		"GITLAB_PROJECT":             "acme/support",
		"GITLAB_WEBHOOK_SECRET":      "dev-webhook-secret",
	}
	for _, tc := range []struct {
		addr    string
		wantErr bool
	}{
		{":8080", false},
		{"127.0.0.1:8080", false},
		{"[::1]:8080", false},
		{"8080", true},
		{"localhost", true},
		{"127.0.0.1:http-alt:1", true},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			env := map[string]string{"SDESK_ADDR": tc.addr}
			for k, v := range base {
				env[k] = v
			}
			_, err := config.Load(func(k string) string { return env[k] })
			var cerr *config.Error
			got := errors.As(err, &cerr)
			_, _, splitErr := net.SplitHostPort(tc.addr)
			if (splitErr != nil) != tc.wantErr {
				t.Fatalf("test table is wrong for %q: SplitHostPort error %v", tc.addr, splitErr)
			}
			if got != tc.wantErr {
				t.Errorf("config.Load(SDESK_ADDR=%q): problem reported = %v, want %v (err: %v)", tc.addr, got, tc.wantErr, err)
			}
		})
	}
}

// addrProblem is Load's problem with SDESK_ADDR=addr, if any.
func addrProblem(t *testing.T, addr string) (string, bool) {
	t.Helper()
	_, err := config.Load(getenv(with(minimalEnv(), map[string]string{"SDESK_ADDR": addr})))
	var cerr *config.Error
	if err != nil && !errors.As(err, &cerr) {
		t.Fatalf("Load: %v, want nil or a *config.Error", err)
	}
	if cerr == nil {
		return "", false
	}
	return problemFor(cerr, "SDESK_ADDR")
}

func TestLoadAddr(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"", true}, // the default, :8080
		{":8080", true},
		{":0", true},
		{":65535", true},
		{"0.0.0.0:80", true},
		{"localhost:8080", true},
		{"[::]:8080", true},
		{"[fe80::1%eth0]:8080", true},
		{":65536", false},
		{":99999", false},
		{":100000", false},
		{":-1", false},
		{":+80", false},
		{":http", false},
		{"127.0.0.1:", false},
		{":", false},
		{"::1:8080", false},
		{"127.0.0.1", false},
		{"http://127.0.0.1:8080", false},
		{":８０", false}, // fullwidth digits
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			p, bad := addrProblem(t, tt.addr)
			if bad == tt.ok {
				t.Fatalf("SDESK_ADDR=%q: got problem %q, want ok=%v", tt.addr, p, tt.ok)
			}
			if bad {
				for _, want := range []string{"SDESK_ADDR", "HOST:PORT", "65535", "127.0.0.1:8080"} {
					if !strings.Contains(p, want) {
						t.Errorf("problem %q: want it to name %q", p, want)
					}
				}
			}
		})
	}
}

// FuzzLoadAddr: Load accepts SDESK_ADDR exactly when net.SplitHostPort
// splits it (the value trimmed of white space, as Load reads every
// variable) and its port is 1 to 5 ASCII digits of value at most 65535;
// an accepted address is the one Config.Addr holds.
func FuzzLoadAddr(f *testing.F) {
	for _, s := range []string{":8080", "127.0.0.1:8080", "[::1]:8080", "8080", "localhost", "127.0.0.1:http-alt:1",
		":65536", ":00080", " :8080 ", "[::1]", "a:b:c", ":+1", ":\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		c, err := config.Load(getenv(with(minimalEnv(), map[string]string{"SDESK_ADDR": addr})))
		var cerr *config.Error
		if err != nil && !errors.As(err, &cerr) {
			t.Fatalf("Load: %v, want nil or a *config.Error", err)
		}
		bad := false
		if cerr != nil {
			_, bad = problemFor(cerr, "SDESK_ADDR")
			for _, p := range cerr.Problems {
				if !strings.HasPrefix(p, "SDESK_ADDR ") {
					t.Fatalf("SDESK_ADDR=%q: a problem with another variable: %q", addr, p)
				}
			}
		}
		v := strings.TrimSpace(addr)
		if v == "" {
			v = ":8080"
		}
		want := false
		if _, port, err := net.SplitHostPort(v); err == nil && len(port) >= 1 && len(port) <= 5 &&
			strings.Trim(port, "0123456789") == "" {
			n, _ := strconv.Atoi(port)
			want = n <= 65535
		}
		if bad == want {
			t.Fatalf("SDESK_ADDR=%q: Load accepts it: %v, want %v", addr, !bad, want)
		}
		if !bad && c.Addr != v {
			t.Errorf("SDESK_ADDR=%q: Config.Addr %q, want %q", addr, c.Addr, v)
		}
	})
}
