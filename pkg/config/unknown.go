package config

import (
	"slices"
	"strings"
)

// Prefixes are the prefixes of the variables sdesk reads. A set variable
// with one of them that sdesk does not read is most likely a misspelt one
// (SDESK_STOR), whose intended variable is then silently left at its
// default: UnknownVars finds them, and those whose prefix is misspelt
// (DISCROD_STAFF_ROLE_ID).
var Prefixes = []string{"SDESK_", "DISCORD_", "GITLAB_"}

// secretVars are the variables whose values are secrets: never printed,
// never logged (LogValue leaves them out).
var secretVars = map[string]bool{
	"DISCORD_BOT_TOKEN":            true,
	"GITLAB_TOKEN":                 true,
	"GITLAB_WEBHOOK_SECRET":        true,
	"GITLAB_WEBHOOK_SIGNING_TOKEN": true,
}

// Secret tells whether the variable's value is a secret (a token or the
// webhook's secret), which `sdesk config` masks. DISCORD_PUBLIC_KEY is
// not one: Discord shows it to anyone who can open the application.
func (v Var) Secret() bool { return secretVars[v.Name] }

// UnknownVar is a set variable sdesk does not read that looks like one it
// reads: it has one of sdesk's Prefixes, or is near a variable sdesk
// reads.
type UnknownVar struct {
	Name string
	// Closest is the variable sdesk reads that Name is nearest to, by the
	// fewest single-character insertions, deletions, substitutions and
	// swaps of two adjacent characters (optimal string alignment
	// distance), when that is at most MaxEdits(Name); "" otherwise. Of
	// equally near ones, the first of Vars (then of the extra names)
	// wins.
	Closest string
}

// MaxEdits is the most edits (see UnknownVar.Closest) a name may be from a
// variable sdesk reads for that variable to be named as what was meant:
// one per five characters of the name, and at least one.
func MaxEdits(name string) int { return max(1, len(name)/5) }

// UnknownVars returns, sorted by name and each once, the variables of
// environ that are neither in Vars nor among known but start with one of
// Prefixes (case-sensitive, as the environment is) or are at most
// MaxEdits(name) from one of those, each with the nearest variable sdesk
// reads. environ holds "NAME=value" entries as
// os.Environ returns them (a bare NAME is taken as a name too); values are
// never looked at, since they may be secrets. known names the other
// variables the caller reads (`sdesk hook`'s SDESK_HOOK_*).
func UnknownVars(environ []string, known ...string) []UnknownVar {
	candidates := make([]string, 0, len(Vars)+len(known))
	isKnown := make(map[string]bool, len(Vars)+len(known))
	for _, v := range Vars {
		candidates = append(candidates, v.Name)
		isKnown[v.Name] = true
	}
	for _, k := range known {
		if !isKnown[k] {
			candidates = append(candidates, k)
			isKnown[k] = true
		}
	}
	seen := map[string]bool{}
	var out []UnknownVar
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if isKnown[name] || seen[name] {
			continue
		}
		u := UnknownVar{Name: name}
		best := MaxEdits(name) + 1
		for _, c := range candidates {
			if d := editDistance(name, c, best); d < best {
				best, u.Closest = d, c
			}
		}
		if u.Closest == "" && !hasPrefix(name) {
			continue
		}
		seen[name] = true
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b UnknownVar) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func hasPrefix(name string) bool {
	for _, p := range Prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// editDistance is the optimal string alignment distance between a and b,
// over bytes (variable names are ASCII), or any value of at least limit
// once the distance is known to reach it: the rows of the table are cut
// short then, so a long name costs no more than a short one.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	// prev2, prev and cur are rows i-2, i-1 and i of the table whose cell
	// [i][j] is the distance between a[:i] and b[:j].
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = d
			rowMin = min(rowMin, d)
		}
		if rowMin >= limit {
			return limit
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
