package sdesk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// recordTimeout bounds the write of a job's outcome after its context
// ended.
const recordTimeout = 2 * time.Second

// leaseMargin is the part of a job lease kept for after the attempt: the
// outcome's record (recordTimeout), the apology (10 s) and slack.
const leaseMargin = 30 * time.Second

// ErrJobBusy: another run of the job holds its lease; try again later.
var ErrJobBusy = errors.New("job is running elsewhere")

// ReplayTTL is how long an interaction's job ID stays claimed: far past
// the 5 minutes in which a replayed signed request is accepted.
const ReplayTTL = 24 * time.Hour

// enqueue stores a new job, then hands it to the queue. The job is durable
// before the caller answers Discord or GitLab.
//
// The job is stored with a claim on its ID in one write (Store.ClaimJob),
// never over an existing record: an interaction delivered twice (a replay
// of the same signed request, a client retry) has effect once. The second
// delivery stores and enqueues nothing and gets the same kind of answer.
func (s *Service) enqueue(ctx context.Context, kind, id string, payload any) (Job, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return Job{}, fmt.Errorf("encode %s job: %w", kind, err)
	}
	now := s.now()
	j := Job{ID: id, Kind: kind, Payload: b, Status: JobPending, CreatedAt: now, UpdatedAt: now}
	first, err := s.Store.ClaimJob(ctx, "job:"+id, ReplayTTL, j)
	if err != nil {
		return Job{}, fmt.Errorf("store %s job: %w", kind, err)
	}
	if !first {
		s.log().Info("interaction replayed: its job exists", slog.String("job_id", id), slog.String("job_kind", kind))
		return j, nil
	}
	if err := s.Queue.Enqueue(ctx, j); err != nil {
		return Job{}, fmt.Errorf("enqueue %s job: %w", kind, err)
	}
	return j, nil
}

// RunJob runs one attempt of a job. The stored record wins over the given
// one, so a job delivered twice (a Lambda retry, a resumed local job) skips
// the steps it already completed, and a finished job is not run again.
//
// It returns nil when the job is done or has failed for good (the failure is
// recorded and the user told), and an error when another attempt should
// follow.
func (s *Service) RunJob(ctx context.Context, j Job) error {
	return s.runJob(ctx, j, false)
}

// runJob is RunJob; fresh says j is the record just stored (HandleEvent), so
// reading it back is skipped.
func (s *Service) runJob(ctx context.Context, j Job, fresh bool) error {
	if s.LeaseTTL > 0 {
		// Lease first, so that the read below sees what another run of
		// this job finished.
		lease := "lease:" + j.ID
		ok, err := s.Store.Claim(ctx, lease, s.LeaseTTL)
		if err != nil {
			return fmt.Errorf("lease job %s: %w", j.ID, err)
		}
		if !ok {
			return fmt.Errorf("job %s: %w", j.ID, ErrJobBusy)
		}
		defer func() { _ = s.Store.Release(context.WithoutCancel(ctx), lease) }()
		// The attempt ends while the lease still holds, with time left to
		// record its outcome and apologize: no other run can start while
		// this one still works.
		limit := max(s.LeaseTTL-leaseMargin, s.LeaseTTL/2)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	if _, ok := ctx.Deadline(); !ok {
		// No caller's deadline (the pool of sdesk serve): the attempt gets
		// one, so no wait on Discord or GitLab holds a job for ever.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultAttemptTimeout)
		defer cancel()
	}
	stored, err := j, error(nil)
	if !fresh {
		stored, err = s.Store.GetJob(ctx, j.ID)
	}
	switch {
	case err == nil:
		j = stored
	case errors.Is(err, ErrNotFound):
		if j.Kind == "" || len(j.Payload) == 0 {
			// Finished long ago (expired) or never stored: nothing to do.
			s.log().Warn("job not found", slog.String("job_id", j.ID))
			return nil
		}
	default:
		return fmt.Errorf("load job %s: %w", j.ID, err)
	}
	if j.Status != JobPending {
		return nil
	}
	log := s.log().With(slog.String("job_id", j.ID), slog.String("job_kind", j.Kind))
	j.Attempts++
	j.Orphaned = false // a run holds it now
	j.UpdatedAt = s.now()
	if err := s.Store.PutJob(ctx, j); err != nil {
		return fmt.Errorf("save job %s: %w", j.ID, err)
	}

	runErr := s.runKind(ctx, &j, log)

	// Record the outcome even when ctx is done (a spent webhook budget).
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	j.UpdatedAt = s.now()
	if runErr == nil {
		j.Status = JobDone
		j.Error = ""
		j.ExpiresAt = j.UpdatedAt.Add(s.jobTTL())
		if err := s.Store.PutJob(sctx, j); err != nil {
			log.Error("job done but not recorded", slog.String("error", err.Error()))
		}
		log.Info("job done", slog.Int("attempt", j.Attempts))
		return nil
	}
	if errors.Is(runErr, errParked) {
		// Waiting, not failed: no attempt counted, no queue holds it; the
		// report's job queues it when the thread exists.
		j.Attempts--
		if err := s.Store.PutJob(sctx, j); err != nil {
			log.Error("save parked job", slog.String("error", err.Error()))
		}
		log.Info("event parked until its report's thread exists", slog.Int("issue", jobIssue(j)))
		return nil
	}
	j.Error = runErr.Error()
	if errors.Is(runErr, context.Canceled) && errors.Is(ctx.Err(), context.Canceled) {
		// Stopped from outside (a shutdown), not failed: this attempt does
		// not count, and the job stays pending for the next start.
		j.Attempts--
		if err := s.Store.PutJob(sctx, j); err != nil {
			log.Error("save interrupted job", slog.String("error", err.Error()))
		}
		log.Info("job interrupted", slog.Int("attempt", j.Attempts+1))
		return fmt.Errorf("job %s interrupted: %w", j.ID, runErr)
	}
	var perm *PermanentError
	permanent := errors.As(runErr, &perm)
	if j.Attempts < s.maxAttempts() && !permanent {
		if err := s.Store.PutJob(sctx, j); err != nil {
			log.Error("save failed attempt", slog.String("error", err.Error()))
		}
		log.Warn("job attempt failed", slog.Int("attempt", j.Attempts), slog.String("error", runErr.Error()))
		return fmt.Errorf("job %s attempt %d: %w", j.ID, j.Attempts, runErr)
	}
	j.Status = JobFailed
	j.ErrorRef = NewRef()
	if permanent {
		// No retry can help; one line tells the operator what can.
		log.Warn("job failed for good: "+perm.Fix, slog.String("error_ref", j.ErrorRef), slog.Int("attempt", j.Attempts),
			slog.String("error", runErr.Error()), slog.Int("issue", jobIssue(j)))
	} else {
		log.Error("job failed", slog.String("error_ref", j.ErrorRef), slog.Int("attempt", j.Attempts),
			slog.String("error", runErr.Error()), slog.Int("issue", jobIssue(j)))
	}
	if err := s.Store.PutJob(sctx, j); err != nil {
		log.Error("record failed job", slog.String("error", err.Error()))
	}
	actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer acancel()
	s.apologize(actx, j, log)
	return nil
}

// Failed reports whether a job has failed for good.
func (s *Service) Failed(ctx context.Context, id string) bool {
	j, err := s.Store.GetJob(ctx, id)
	return err == nil && j.Status == JobFailed
}

func (s *Service) runKind(ctx context.Context, j *Job, log *slog.Logger) error {
	switch j.Kind {
	case JobReport:
		return s.runReport(ctx, j, log)
	case JobReply:
		return s.runReply(ctx, j)
	case JobClose:
		return s.runClose(ctx, j)
	case JobReopen:
		return s.runReopen(ctx, j)
	case JobIssueStatus:
		return s.runStatus(ctx, j)
	case JobPanel:
		return s.runPanel(ctx, j)
	case JobGitLabEvent:
		return s.runEvent(ctx, j, log)
	}
	return fmt.Errorf("unknown job kind %q", j.Kind)
}

// interactionPayload is the part every interaction job payload shares
// (ReportRequest and ThreadRequest have these fields).
type interactionPayload struct {
	Token string `json:"token"`
	IID   int    `json:"iid"`
}

// apologize edits the interaction's deferred answer after a final failure.
func (s *Service) apologize(ctx context.Context, j Job, log *slog.Logger) {
	if j.Kind == JobReport {
		var r ReportRequest
		if json.Unmarshal(j.Payload, &r) == nil {
			s.releaseCooldown(ctx, r)
		}
	}
	if _, told := j.Step("refused:response"); told {
		return // the user has been told why already (threadRefused)
	}
	var p interactionPayload
	if json.Unmarshal(j.Payload, &p) != nil || p.Token == "" {
		return
	}
	msg := Message{Content: Apology(j.ErrorRef)}
	if err := s.Discord.EditResponse(ctx, p.Token, msg); err != nil {
		log.Error("apology not delivered", slog.String("error_ref", j.ErrorRef), slog.String("error", err.Error()))
	}
}

// jobIssue is the issue a job is about: an event's, or a thread
// request's; 0 for a report whose issue does not exist yet.
func jobIssue(j Job) int {
	var p struct {
		Event
		IID int `json:"iid"`
	}
	if json.Unmarshal(j.Payload, &p) != nil {
		return 0
	}
	if iid := p.IssueIID(); iid != 0 {
		return iid
	}
	return p.IID
}

// jobReport is the report an event job's issue came from (Event.Report).
func jobReport(j Job) string {
	var p struct {
		Report string `json:"report"`
	}
	if json.Unmarshal(j.Payload, &p) != nil {
		return ""
	}
	return p.Report
}

// nonce is the Discord message nonce of a job's step, so that a create
// repeated after a lost answer returns the first message.
func nonce(j *Job, step string) string {
	sum := sha256.Sum256([]byte(j.ID + "/" + step))
	return hex.EncodeToString(sum[:])[:25]
}

// noteNonce is the Discord message nonce of part i of a GitLab note,
// whichever job posts it.
func noteNonce(noteID, i int) string {
	sum := sha256.Sum256([]byte("note/" + strconv.Itoa(noteID) + "/" + strconv.Itoa(i)))
	return hex.EncodeToString(sum[:])[:25]
}

// once runs a create that must not happen twice, as step name. A
// "<name>:started" step is recorded before create runs; an attempt that
// finds it without the result cannot know whether the create happened (an
// answer lost, a process killed), so it records "<name>:retried" and asks
// find first.
func (s *Service) once(ctx context.Context, j *Job, name string, find, create func() (string, error)) (string, error) {
	if v, ok := j.Step(name); ok {
		return v, nil
	}
	for try := 1; ; try++ {
		if _, started := j.Step(name + ":started"); started {
			// An earlier try may have created it, or may yet: its request
			// can still be in flight at the service.
			if _, err := s.step(ctx, j, name+":retried", func() (string, error) { return "", nil }); err != nil {
				return "", err
			}
			v, err := find()
			switch {
			case err == nil:
				return s.step(ctx, j, name, func() (string, error) { return v, nil })
			case !errors.Is(err, ErrNotFound):
				return "", fmt.Errorf("%s: look for an earlier attempt's result: %w", name, err)
			}
		} else if _, err := s.step(ctx, j, name+":started", func() (string, error) { return "", nil }); err != nil {
			return "", err
		}
		v, err := s.step(ctx, j, name, create)
		wait := time.Duration(try) * onceBackoff
		if err == nil || try >= onceTries || IsPermanent(err) || !fitsBefore(ctx, wait+onceReserve) {
			return v, err
		}
		// One failed create does not cost the attempt: look, then try
		// again, within it.
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, err
		case <-t.C:
		}
	}
}

// A create of once is tried onceTries times in one attempt, onceBackoff,
// then twice that apart, while onceReserve of the attempt's time is left
// after the wait.
const (
	onceTries   = 3
	onceBackoff = time.Second
	onceReserve = 30 * time.Second
)

// fitsBefore reports whether d still fits before ctx's deadline (and ctx
// has not ended).
func fitsBefore(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > d
}

// skipped is the recorded result of a step that was refused for good.
const skipped = "skipped"

// tolerant is step for work the rest of the job does not depend on (an
// interaction's answer, a message, a thread edit): a permanent refusal
// ends the step with one WARN line naming the operator's fix, records it
// as skipped (no retry repeats it), and the job goes on. Other errors are
// returned as by step.
func (s *Service) tolerant(ctx context.Context, j *Job, name string, fn func() (string, error)) (string, error) {
	v, err := s.step(ctx, j, name, fn)
	var perm *PermanentError
	if err == nil || !errors.As(err, &perm) {
		return v, err
	}
	s.log().Warn("step skipped: "+perm.Fix, slog.String("job_id", j.ID), slog.String("step", name),
		slog.Int("issue", jobIssue(*j)), slog.String("error", err.Error()))
	return s.step(ctx, j, name, func() (string, error) { return skipped, nil })
}

// step runs fn once per job: a completed step's result is recorded in the
// job, so a retried job skips it.
func (s *Service) step(ctx context.Context, j *Job, name string, fn func() (string, error)) (string, error) {
	if v, ok := j.Step(name); ok {
		return v, nil
	}
	v, err := fn()
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	j.SetStep(name, v)
	j.UpdatedAt = s.now()
	if err := s.Store.PutJob(ctx, *j); err != nil {
		return "", fmt.Errorf("record step %s: %w", name, err)
	}
	return v, nil
}
