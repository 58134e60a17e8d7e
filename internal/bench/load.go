package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"text/tabwriter"
	"time"
)

// Verdict classifies an answer.
type Verdict int

// Verdicts.
const (
	// OK: the answer sdesk gives when it accepts the request.
	OK Verdict = iota
	// Refused: an expected refusal (a limit per member): not an error.
	Refused
	// Failed: anything else, a late answer included.
	Failed
)

// Op is one kind of request of a load.
type Op struct {
	Name string
	// Weight is the op's share of the requests: each cycle of
	// sum(weights) requests sends Weight of this op.
	Weight int
	// Do sends the i-th request of this op (i counts from 0 per op) and
	// judges its answer; why explains a Failed.
	Do func(ctx context.Context, i int) (o Outcome, v Verdict, why string)
}

// OpStats is what one op's requests got.
type OpStats struct {
	Name    string   `json:"name"`
	Sent    int      `json:"sent"`
	OK      int      `json:"ok"`
	Refused int      `json:"refused"`
	Failed  int      `json:"failed"`
	Latency Summary  `json:"latency"`
	Errors  []string `json:"errors,omitempty"` // the first few reasons
	lat     []time.Duration
}

// maxErrors is how many failure reasons an op keeps.
const maxErrors = 5

// LoadReport is a whole run.
type LoadReport struct {
	Rate     float64       `json:"rate_per_s"`
	Duration time.Duration `json:"duration_ns"`
	Sent     int           `json:"sent"`
	// Late counts requests that started more than 100 ms after their slot
	// (the load generator fell behind).
	Late int       `json:"late"`
	Ops  []OpStats `json:"ops"`
}

// Cycle lists op indexes in the order one cycle sends them: the ops
// interleaved by weight (smooth weighted round-robin), so that each op's
// requests are spread over the cycle rather than bunched.
func Cycle(ops []Op) []int {
	total := 0
	for _, o := range ops {
		total += max(o.Weight, 0)
	}
	cur := make([]int, len(ops))
	out := make([]int, 0, total)
	for range total {
		best := -1
		for i, o := range ops {
			if o.Weight <= 0 {
				continue
			}
			cur[i] += o.Weight
			if best < 0 || cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		out = append(out, best)
	}
	return out
}

// RunLoad sends requests at rate per second for d, open loop: request k
// starts at its slot, k/rate after the start, whether or not earlier
// answers came, as users and GitLab do. Request k is of op
// Cycle(ops)[k % len]. It returns when every request has its answer.
func RunLoad(ctx context.Context, ops []Op, rate float64, d time.Duration) LoadReport {
	cycle := Cycle(ops)
	rep := LoadReport{Rate: rate, Duration: d, Ops: make([]OpStats, len(ops))}
	for i, o := range ops {
		rep.Ops[i].Name = o.Name
	}
	if len(cycle) == 0 || rate <= 0 {
		return rep
	}
	n := int(rate * d.Seconds())
	perOp := make([]int, len(ops))
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for k := range n {
		slot := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
		if wait := time.Until(slot); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		if time.Since(slot) > 100*time.Millisecond {
			rep.Late++
		}
		op := cycle[k%len(cycle)]
		i := perOp[op]
		perOp[op]++
		rep.Sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, v, why := ops[op].Do(ctx, i)
			mu.Lock()
			defer mu.Unlock()
			st := &rep.Ops[op]
			st.Sent++
			st.lat = append(st.lat, o.Latency)
			switch v {
			case OK:
				st.OK++
			case Refused:
				st.Refused++
			default:
				st.Failed++
				if len(st.Errors) < maxErrors {
					st.Errors = append(st.Errors, why)
				}
			}
		}()
	}
	wg.Wait()
	for i := range rep.Ops {
		rep.Ops[i].Latency = Summarize(rep.Ops[i].lat)
	}
	return rep
}

// Failed sums the failures of every op.
func (r LoadReport) Failed() int {
	n := 0
	for _, o := range r.Ops {
		n += o.Failed
	}
	return n
}

// Render writes the per-op table and the failure reasons.
func (r LoadReport) Render(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tsent\tok\trefused (expected)\terrors\tp50\tp90\tp99\tmax\t")
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", o.Name, o.Sent, o.OK, o.Refused, o.Failed,
			Dur(o.Latency.P50), Dur(o.Latency.P90), Dur(o.Latency.P99), Dur(o.Latency.Max))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, o := range r.Ops {
		for _, e := range o.Errors {
			if _, err := fmt.Fprintf(w, "error: %s: %s\n", o.Name, e); err != nil {
				return err
			}
		}
	}
	return nil
}
