package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// ModuleSize is what one module (or "std", the standard library and the
// runtime) puts into a binary's machine code.
type ModuleSize struct {
	Module string `json:"module"`
	// Text is the size in bytes of the module's functions (symbols of type
	// T and t in `go tool nm -size`).
	Text int64 `json:"text_bytes"`
	// Share is Text's share of all text, times the stripped binary's size:
	// the bytes the module costs once its line tables (.gopclntab, which
	// grow with the code) and the rest are counted in proportion. An
	// estimate; building without the module is the exact figure.
	Share int64 `json:"est_bytes"`
}

// PackageOf is the import path of a Go symbol as `go tool nm` prints it,
// e.g. "net/http" for "net/http.(*Transport).dialConn", "" for the
// linker's own symbols ("go:func.*", "type:*", runtime.etext is "runtime").
// A symbol of a generic instantiation belongs to the package that defines
// the function, not to the type arguments.
func PackageOf(sym string) string {
	if strings.HasPrefix(sym, "go:") || strings.HasPrefix(sym, "type:") {
		return ""
	}
	if i := strings.IndexByte(sym, '['); i >= 0 {
		sym = sym[:i]
	}
	slash := strings.LastIndexByte(sym, '/')
	dot := strings.IndexByte(sym[slash+1:], '.')
	if dot < 0 {
		return ""
	}
	return sym[:slash+1+dot]
}

// ModuleOf maps a package path to the module among mods (module paths,
// e.g. from `go version -m`) with the longest matching prefix, "std" for
// a path whose first element has no dot, and "" when none matches.
func ModuleOf(pkg string, mods []string) string {
	if pkg == "" {
		return ""
	}
	first, _, _ := strings.Cut(pkg, "/")
	if !strings.Contains(first, ".") {
		return "std"
	}
	best := ""
	for _, m := range mods {
		if (pkg == m || strings.HasPrefix(pkg, m+"/")) && len(m) > len(best) {
			best = m
		}
	}
	return best
}

// Linker is the "module" of text symbols no package owns: the type
// equality and hash functions (type:*) and other code the linker makes
// (go:*), and symbols of no listed module.
const Linker = "linker-made (type:*, go:*)"

// ParseNM sums the text symbols of `go tool nm -size` output (lines
// "addr size type name") by module, those of no module under Linker. It
// also returns the total of all text symbols.
func ParseNM(out []byte, mods []string) (map[string]int64, int64, error) {
	sums := map[string]int64{}
	var total int64
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		if f[2] != "T" && f[2] != "t" {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("nm line %q: size: %w", sc.Text(), err)
		}
		m := ModuleOf(PackageOf(strings.Join(f[3:], " ")), mods)
		if m == "" {
			m = Linker
		}
		sums[m] += n
		total += n
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("read nm output: %w", err)
	}
	return sums, total, nil
}

// Modules lists the main module and the dependencies that `go version
// -m` prints for a binary.
func Modules(versionM []byte) []string {
	var mods []string
	for _, line := range strings.Split(string(versionM), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "mod" || f[0] == "dep") {
			mods = append(mods, f[1])
		}
	}
	return mods
}

// Composition returns the modules of an unstripped binary by text size,
// largest first, each with its estimated share of stripped bytes.
func Composition(ctx context.Context, goBin, unstripped string, stripped int64) ([]ModuleSize, error) {
	vm, err := exec.CommandContext(ctx, goBin, "version", "-m", unstripped).Output()
	if err != nil {
		return nil, fmt.Errorf("go version -m %s: %w", unstripped, err)
	}
	nm, err := exec.CommandContext(ctx, goBin, "tool", "nm", "-size", unstripped).Output()
	if err != nil {
		return nil, fmt.Errorf("go tool nm -size %s: %w", unstripped, err)
	}
	sums, total, err := ParseNM(nm, Modules(vm))
	if err != nil {
		return nil, err
	}
	if total == 0 {
		return nil, fmt.Errorf("go tool nm %s: no text symbols", unstripped)
	}
	out := make([]ModuleSize, 0, len(sums))
	for m, n := range sums {
		out = append(out, ModuleSize{Module: m, Text: n, Share: n * stripped / total})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Text != out[j].Text {
			return out[i].Text > out[j].Text
		}
		return out[i].Module < out[j].Module
	})
	return out, nil
}
