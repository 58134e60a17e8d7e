package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one line of the table: sdesk's figure, the floor it is measured
// beside (when there is one), the target and whether it is met; a target
// not met carries its measured cause.
type Row struct {
	Name   string `json:"name"`
	Sdesk  string `json:"sdesk"`
	Floor  string `json:"floor,omitempty"`
	Ratio  string `json:"ratio,omitempty"`
	Target string `json:"target"`
	// Met is "yes", "no" or "" (no target: reported beside another row).
	Met   string `json:"met"`
	Cause string `json:"cause,omitempty"`
	// Data holds the row's raw figures (nanoseconds, bytes, counts).
	Data map[string]any `json:"data,omitempty"`
}

// Result is one run of `make bench`.
type Result struct {
	Date     time.Time `json:"date"`
	Command  string    `json:"command"`
	Go       string    `json:"go"`
	Platform string    `json:"platform"` // GOOS/GOARCH of the machine
	CPUs     int       `json:"cpus"`
	CPUModel string    `json:"cpu_model,omitempty"`
	Seconds  float64   `json:"seconds"` // the run's wall time
	Rows     []Row     `json:"rows"`
	// Init is, per binary, the median init cost of each package
	// (GODEBUG=inittrace=1), largest first.
	Init map[string][]InitCost `json:"init,omitempty"`
	// Sizes is, per bootstrap, what each module adds to it, largest
	// first.
	Sizes map[string][]ModuleSize `json:"sizes,omitempty"`
}

// Render writes the table as aligned text.
func (r *Result) Render(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tsdesk\tfloor, beside it\tratio\ttarget\tmet")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", row.Name, row.Sdesk, dash(row.Floor), dash(row.Ratio), dash(row.Target), dash(row.Met))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, row := range r.Rows {
		if row.Cause != "" {
			if _, err := fmt.Fprintf(w, "* %s: %s\n", row.Name, row.Cause); err != nil {
				return err
			}
		}
	}
	return nil
}

// Markdown writes the table as a Markdown table, causes below it.
func (r *Result) Markdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| measure | sdesk | floor, beside it | ratio | target | met |\n|---|---|---|---|---|---|\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", mdCell(row.Name), mdCell(row.Sdesk), mdCell(dash(row.Floor)),
			mdCell(dash(row.Ratio)), mdCell(dash(row.Target)), mdCell(dash(row.Met)))
	}
	for _, row := range r.Rows {
		if row.Cause != "" {
			fmt.Fprintf(&b, "\n- %s: %s", row.Name, row.Cause)
		}
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// WriteJSON writes r into dir as <date>.json (UTC, e.g.
// 2026-11-29T173012Z.json) and returns the file's path.
func (r *Result) WriteJSON(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("results directory: %w", err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "p99 < 50 ms" stays readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return "", fmt.Errorf("encode result: %w", err)
	}
	path := filepath.Join(dir, r.Date.UTC().Format("2006-01-02T150405Z")+".json")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("write result: %w", err)
	}
	return path, nil
}

// Dur formats a duration for the table: 3 significant digits in µs or ms.
func Dur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.3g µs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.3g ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.3g s", d.Seconds())
}

// MB formats bytes as decimal megabytes (the unit of `make size`).
func MB(n int64) string { return fmt.Sprintf("%.2f MB", float64(n)/1e6) }

// MiB formats bytes as binary megabytes (the unit of Lambda's memory
// setting).
func MiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// Ratio formats a/b as "1.23×".
func Ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// YesNo is "yes" or "no".
func YesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}
