package chaos

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// OpKind is what one operation of a plan does.
type OpKind int

// Operations. Discord ones are signed interactions sent to sdesk; GitLab
// ones change the GitLab fake directly, as a staff member would in
// GitLab's UI, then deliver the webhook GitLab would send.
const (
	// OpReport submits the /report modal (Variant: which reporter).
	OpReport OpKind = iota
	// OpReply answers in the thread: /reply (Variant 0) or the reply modal
	// (Variant 1), by the reporter or staff (Staff).
	OpReply
	// OpClose closes from Discord: /close (Variant 0) or the Close button
	// (Variant 1), by the reporter or staff.
	OpClose
	// OpNote is a public note by staff in GitLab.
	OpNote
	// OpInternal is an internal note by staff in GitLab.
	OpInternal
	// OpEdit edits the public note made by op Note; by its author, or by
	// the other staff member when Staff is set.
	OpEdit
	// OpLabels sets the labels to the default one and a new one.
	OpLabels
	// OpTitle renames the issue.
	OpTitle
	// OpStaffClose closes the issue in GitLab.
	OpStaffClose
	// OpReopen reopens it in GitLab.
	OpReopen
	// OpDuplicate delivers the report's last webhook again under a fresh
	// Idempotency-Key, as a second hook (a group hook beside the project
	// hook) or a re-executed hook does.
	OpDuplicate
	// OpReplay sends the report's last interaction again, the same signed
	// bytes within Discord's 5-minute window.
	OpReplay
	numOpKinds
)

var opNames = [...]string{"report", "reply", "close", "note", "internal", "edit", "labels", "title", "staff-close", "reopen", "duplicate", "replay"}

func (k OpKind) String() string {
	if k < 0 || k >= numOpKinds {
		return fmt.Sprintf("op(%d)", int(k))
	}
	return opNames[k]
}

// Op is one operation of a plan.
type Op struct {
	N       int // position in the plan, from 1
	Kind    OpKind
	Report  int // the report it acts on: the index of its OpReport, from 0
	Variant int // see the OpKind
	Staff   bool
	Note    int  // OpEdit: N of the note's OpNote
	Early   bool // OpReport: staff adds a note as soon as the issue exists, maybe before its thread
	// Twice: a webhook op is delivered under two Idempotency-Keys at once
	// (a project hook and a group hook); an OpReplay sends two replays at
	// once.
	Twice bool
	// WorkItem: an issue event is sent in its work-item form.
	WorkItem bool
}

// Token is the op's unique word, put in the text it writes (titles,
// notes, replies, labels) so that the checks can find its effects, e.g.
// N0007 for the note of op 7.
func (o Op) Token() string {
	prefix := map[OpKind]string{
		OpReport: "P", OpReply: "R", OpNote: "N", OpInternal: "I", OpEdit: "E", OpLabels: "L", OpTitle: "T",
	}[o.Kind]
	if prefix == "" {
		prefix = "X"
	}
	return fmt.Sprintf("%s%04d", prefix, o.N)
}

func (o Op) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "op %d %s report %d", o.N, o.Kind, o.Report)
	switch o.Kind {
	case OpReport:
		fmt.Fprintf(&b, " by reporter %d", o.Variant)
		if o.Early {
			b.WriteString(", early staff note")
		}
	case OpReply:
		b.WriteString([]string{" via /reply", " via the reply modal"}[o.Variant%2])
	case OpClose:
		b.WriteString([]string{" via /close", " via the Close button"}[o.Variant%2])
	case OpEdit:
		fmt.Fprintf(&b, " of note op %d", o.Note)
	}
	if o.Kind == OpReply || o.Kind == OpClose {
		if o.Staff {
			b.WriteString(" by staff")
		} else {
			b.WriteString(" by the reporter")
		}
	}
	if o.Kind == OpEdit && o.Staff {
		b.WriteString(" by another staff member")
	}
	if o.Twice {
		b.WriteString(", twice at once")
	}
	if o.WorkItem {
		b.WriteString(", as a work item")
	}
	return b.String()
}

// Plan is a sequence of operations drawn from a seed.
type Plan struct {
	Seed    int64
	Ops     []Op
	Reports int
}

// MaxOps is the largest plan: tokens have four digits.
const MaxOps = 9999

// Reporters is how many distinct Discord users report.
const Reporters = 3

// weights of the op kinds after the first report.
var weights = [numOpKinds]int{
	OpReport: 14, OpReply: 14, OpClose: 4, OpNote: 20, OpInternal: 6, OpEdit: 8,
	OpLabels: 7, OpTitle: 3, OpStaffClose: 3, OpReopen: 4, OpDuplicate: 9, OpReplay: 8,
}

// reportModel is what the plan knows of a report while drawing.
type reportModel struct {
	closed      bool
	notes       []int // N of its public notes
	titles      int
	hooks       bool // some webhook will have been delivered
	interaction bool
}

// NewPlan draws n operations (1 to MaxOps) from seed. The first is a
// report; every later op acts on an earlier report and is valid for the
// state the plan expects it in (a close only of an open issue, an edit only
// of an existing note).
func NewPlan(seed int64, n int) Plan {
	n = min(max(n, 1), MaxOps)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5de5c4a05))
	p := Plan{Seed: seed}
	var reports []*reportModel
	total := 0
	for _, w := range weights {
		total += w
	}
	for i := 1; i <= n; i++ {
		op := Op{N: i}
		kind := OpReport
		if len(reports) > 0 {
			r := rng.IntN(total)
			for k, w := range weights {
				if r < w {
					kind = OpKind(k)
					break
				}
				r -= w
			}
		}
		if kind != OpReport {
			// Recent reports are busier, as on a real desk.
			idx := len(reports) - 1 - min(int(rng.ExpFloat64()*3), len(reports)-1)
			op.Report = idx
			if !valid(kind, reports[idx]) {
				kind = OpNote
			}
		}
		op.Kind = kind
		switch kind {
		case OpReport:
			op.Report = len(reports)
			op.Variant = rng.IntN(Reporters)
			op.Early = rng.IntN(5) == 0
			reports = append(reports, &reportModel{interaction: true, hooks: true})
			if op.Early {
				reports[op.Report].notes = append(reports[op.Report].notes, i)
			}
		case OpReply:
			op.Variant = rng.IntN(2)
			op.Staff = rng.IntN(3) == 0
			reports[op.Report].interaction = true
			if reports[op.Report].closed {
				// Staff: a reporter's reply to a closed issue reopens it
				// (SDESK_REOPEN_ON_REPLY) when sdesk knew it closed as the
				// reply came, which a run with faults cannot predict; the
				// reopen is tested on its own (TestManageFromOutsideTheThread).
				op.Staff = true
			}
		case OpClose:
			op.Variant = rng.IntN(2)
			op.Staff = rng.IntN(3) == 0
			reports[op.Report].closed = true
			reports[op.Report].interaction = true
		case OpNote:
			reports[op.Report].notes = append(reports[op.Report].notes, i)
		case OpEdit:
			ns := reports[op.Report].notes
			op.Note = ns[rng.IntN(len(ns))]
			op.Staff = rng.IntN(2) == 0
		case OpTitle:
			reports[op.Report].titles++
		case OpStaffClose:
			reports[op.Report].closed = true
		case OpReopen:
			reports[op.Report].closed = false
		case OpReplay:
			op.Twice = rng.IntN(4) == 0
		}
		switch kind {
		case OpNote, OpInternal, OpEdit, OpLabels, OpTitle, OpStaffClose, OpReopen:
			op.Twice = rng.IntN(8) == 0
		}
		switch kind {
		case OpLabels, OpTitle, OpStaffClose, OpReopen:
			op.WorkItem = rng.IntN(3) == 0
		}
		p.Ops = append(p.Ops, op)
	}
	p.Reports = len(reports)
	return p
}

func valid(k OpKind, r *reportModel) bool {
	switch k {
	case OpClose, OpStaffClose:
		return !r.closed
	case OpReopen:
		return r.closed
	case OpEdit:
		return len(r.notes) > 0
	case OpTitle:
		return r.titles < 2 // Discord renames a thread at most twice per 10 minutes
	case OpDuplicate:
		return r.hooks
	case OpReplay:
		return r.interaction
	}
	return true
}

// Counts returns how many ops of each kind the plan has, e.g. "report 9,
// reply 8, ...".
func (p Plan) Counts() string {
	var n [numOpKinds]int
	for _, o := range p.Ops {
		n[o.Kind]++
	}
	var parts []string
	for k, c := range n {
		if c > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", OpKind(k), c))
		}
	}
	return strings.Join(parts, ", ")
}
