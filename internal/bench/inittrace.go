package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// InitCost is what one package's initialization costs, as the Go runtime
// reports it with GODEBUG=inittrace=1
// (https://pkg.go.dev/runtime#hdr-Environment_Variables): its package-level
// variables and init functions.
type InitCost struct {
	Package string        `json:"package"`
	Start   time.Duration `json:"start_ns"` // since the process started
	Clock   time.Duration `json:"clock_ns"` // wall time of the package's init
	Bytes   int64         `json:"bytes"`    // heap allocated
	Allocs  int64         `json:"allocs"`
}

// ParseInitTrace reads the lines
//
//	init <package> @<start> ms, <clock> ms clock, <bytes> bytes, <allocs> allocs
//
// out of a process's standard error, ignoring every other line. A line
// that starts with "init " and has another shape is an error.
func ParseInitTrace(stderr []byte) ([]InitCost, error) {
	var out []InitCost
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "init ") {
			continue
		}
		c, err := parseInitLine(line)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read init trace: %w", err)
	}
	return out, nil
}

func parseInitLine(line string) (InitCost, error) {
	bad := func(why string) (InitCost, error) {
		return InitCost{}, fmt.Errorf("init trace line %q: %s", line, why)
	}
	f := strings.Fields(line)
	// init pkg @1.2 ms, 0.3 ms clock, 100 bytes, 2 allocs
	if len(f) != 11 || f[0] != "init" || !strings.HasPrefix(f[2], "@") || f[3] != "ms," ||
		f[5] != "ms" || f[6] != "clock," || f[8] != "bytes," || f[10] != "allocs" {
		return bad("not the runtime's format")
	}
	ms := func(s string) (time.Duration, bool) {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || v > 1e9 {
			return 0, false
		}
		return time.Duration(v * float64(time.Millisecond)), true
	}
	start, ok1 := ms(strings.TrimPrefix(f[2], "@"))
	clock, ok2 := ms(f[4])
	b, err1 := strconv.ParseInt(f[7], 10, 64)
	a, err2 := strconv.ParseInt(f[9], 10, 64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || b < 0 || a < 0 {
		return bad("a number does not parse")
	}
	return InitCost{Package: f[1], Start: start, Clock: clock, Bytes: b, Allocs: a}, nil
}

// MedianInit merges several traces of one binary: per package, the median
// of each figure (a package missing from a trace counts as absent there,
// not as zero). The result is sorted by clock, largest first.
func MedianInit(traces [][]InitCost) []InitCost {
	by := map[string][]InitCost{}
	for _, tr := range traces {
		for _, c := range tr {
			by[c.Package] = append(by[c.Package], c)
		}
	}
	out := make([]InitCost, 0, len(by))
	for pkg, cs := range by {
		pick := func(f func(InitCost) int64) int64 {
			v := make([]int64, len(cs))
			for i, c := range cs {
				v[i] = f(c)
			}
			sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
			return v[len(v)/2]
		}
		out = append(out, InitCost{
			Package: pkg,
			Start:   time.Duration(pick(func(c InitCost) int64 { return int64(c.Start) })),
			Clock:   time.Duration(pick(func(c InitCost) int64 { return int64(c.Clock) })),
			Bytes:   pick(func(c InitCost) int64 { return c.Bytes }),
			Allocs:  pick(func(c InitCost) int64 { return c.Allocs }),
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Clock != out[j].Clock {
			return out[i].Clock > out[j].Clock
		}
		return out[i].Package < out[j].Package
	})
	return out
}

// TotalInit sums the clock of every package's init.
func TotalInit(cs []InitCost) time.Duration {
	var d time.Duration
	for _, c := range cs {
		d += c.Clock
	}
	return d
}
