package sdesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// JobCooldown is the kind of a member's cooldown record: a job record
// with the ID "cooldown:<user ID>", status done and an expiry when the
// cooldown ends, which is never run. Its payload names the interaction
// of the report that started it.
const JobCooldown = "cooldown"

// verifyTimeout bounds the GitLab reads that confirm a member's open
// reports before a refusal: the interaction's answer is due within 3 s.
const verifyTimeout = 1500 * time.Millisecond

func cooldownKey(userID string) string { return "cooldown:" + userID }

type cooldownRecord struct {
	Interaction string `json:"interaction"`
}

// checkLimits refuses a new report of a member who made one less than
// ReportCooldown ago or has MaxOpenReports open (reports being made
// count), naming them. Staff are exempt. interactionID is the report's
// own interaction ("" before the form opens), never counted against it.
func (s *Service) checkLimits(ctx context.Context, u User, interactionID string) error {
	if s.isStaff(u) {
		return nil
	}
	if s.ReportCooldown > 0 {
		rec, err := s.Store.GetJob(ctx, cooldownKey(u.ID))
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return fmt.Errorf("read the cooldown of %s: %w", u.ID, err)
		default:
			var c cooldownRecord
			if json.Unmarshal(rec.Payload, &c) != nil || c.Interaction != interactionID {
				return cooldownError(rec.ExpiresAt)
			}
		}
	}
	if s.MaxOpenReports <= 0 {
		return nil
	}
	open, making, err := s.openReports(ctx, u, interactionID)
	if err != nil {
		return err
	}
	if len(open)+making < s.MaxOpenReports {
		return nil
	}
	return s.tooManyError(open, making)
}

// reportingLockTTL bounds how long a member's report submit holds the
// lock that makes counting and storing one step (lockReporting), should
// its process die holding it.
const reportingLockTTL = 10 * time.Second

// lockReporting makes the open-report count and the storing of a new
// report one step per member, so that reports submitted at once cannot
// all pass a count that none of them is in yet: a claim on
// "reporting:<user ID>", taken within about a second (other submits of the
// member wait their turn), released by the returned func. Without a limit
// on open reports, or for staff, there is nothing to lock.
func (s *Service) lockReporting(ctx context.Context, u User) (unlock func(), err error) {
	if s.MaxOpenReports <= 0 || s.isStaff(u) {
		return func() {}, nil
	}
	key := "reporting:" + u.ID
	for try := 0; ; try++ {
		won, err := s.Store.Claim(ctx, key, reportingLockTTL)
		if err != nil {
			return nil, fmt.Errorf("claim %s: %w", key, err)
		}
		if won {
			break
		}
		if try == 20 {
			return nil, &UserError{Message: "Another report of yours is being made right now. Please try again in a moment."}
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer cancel()
		if err := s.Store.Release(ctx, key); err != nil {
			s.log().Warn("report lock not released: the member's next report waits up to 10 s", slog.String("user_id", u.ID), slog.String("error", err.Error()))
		}
	}, nil
}

func cooldownError(until time.Time) error {
	return &UserError{Message: fmt.Sprintf("You made a report a moment ago. You can make another one <t:%d:R>; until then, add to it with /reply in its thread.", until.Unix())}
}

// openReports are the member's open reports, newest first, confirmed
// with GitLab when they reach the limit (a state change whose webhook
// was lost is learned here), and how many of their reports are being
// made (pending report jobs without a mapping yet).
func (s *Service) openReports(ctx context.Context, u User, interactionID string) ([]Mapping, int, error) {
	open, err := s.Store.Mappings(ctx, MappingQuery{ReporterID: u.ID, State: StateOpened})
	if err != nil {
		return nil, 0, fmt.Errorf("list the reports of %s: %w", u.ID, err)
	}
	pending, err := s.Store.ListJobs(ctx, JobPending)
	if err != nil {
		return nil, 0, fmt.Errorf("list pending jobs: %w", err)
	}
	making := 0
	for _, j := range pending {
		if j.Kind != JobReport || j.ID == interactionID {
			continue
		}
		if _, mapped := j.Step("mapping"); mapped {
			continue // listed with the mappings
		}
		if s.stalled(j) {
			continue // never ran, or stopped: no report is being made
		}
		var r struct {
			User User `json:"user"`
		}
		if json.Unmarshal(j.Payload, &r) == nil && r.User.ID == u.ID {
			making++
		}
	}
	if len(open)+making < s.MaxOpenReports {
		return open, making, nil
	}
	return s.confirmOpen(ctx, open), making, nil
}

// confirmOpen keeps the reports GitLab says are open (or cannot say, in
// verifyTimeout) and records the state of the others.
func (s *Service) confirmOpen(ctx context.Context, open []Mapping) []Mapping {
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	closed := make([]bool, len(open))
	var wg sync.WaitGroup
	for i, m := range open {
		wg.Go(func() {
			is, err := s.GitLab.GetIssue(ctx, m.IssueIID)
			if errors.Is(err, ErrNotFound) {
				closed[i] = true // deleted, or moved out of the project: not open here
				return
			}
			if err != nil {
				s.log().Info("open report not confirmed", slog.Int("issue", m.IssueIID), slog.String("error", err.Error()))
				return
			}
			if is.State != StateOpened {
				closed[i] = true
				if err := s.setState(ctx, m.IssueIID, is.State, is.UpdatedAt); err != nil {
					s.log().Info("state not recorded", slog.Int("issue", m.IssueIID), slog.String("error", err.Error()))
				}
			}
		})
	}
	wg.Wait()
	var out []Mapping
	for i, m := range open {
		if !closed[i] {
			out = append(out, m)
		}
	}
	return out
}

func (s *Service) tooManyError(open []Mapping, making int) error {
	n := len(open) + making
	head := fmt.Sprintf("You have %d open %s, and a member may have %d at a time:", n, plural(n, "report", "reports"), s.MaxOpenReports)
	var foot []string
	if len(open) > 10 {
		foot = append(foot, fmt.Sprintf("• …and %d more (`/issues` lists them)", len(open)-10))
	}
	if making > 0 {
		foot = append(foot, fmt.Sprintf("• %d being made right now", making))
	}
	foot = append(foot, "Add to one of them with /reply in its thread, or close one you no longer need with /close.")
	return &UserError{Message: listMessage(head, open[:min(len(open), 10)], false, strings.Join(foot, "\n"))}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// releaseCooldown ends the cooldown a report started, when its job failed
// for good: the member may report again at once, and is not told to add
// to a report that does not exist.
func (s *Service) releaseCooldown(ctx context.Context, r ReportRequest) {
	if s.ReportCooldown <= 0 {
		return
	}
	key := cooldownKey(r.User.ID)
	rec, err := s.Store.GetJob(ctx, key)
	if err != nil {
		return // expired already, or unreadable: it ends by itself
	}
	var c cooldownRecord
	if json.Unmarshal(rec.Payload, &c) != nil || c.Interaction != r.InteractionID {
		return // a later report's
	}
	rec.ExpiresAt = s.now()
	if err := s.Store.PutJob(ctx, rec); err != nil {
		s.log().Info("cooldown of a failed report not released", slog.String("user_id", r.User.ID), slog.String("error", err.Error()))
		return
	}
	if err := s.Store.Release(ctx, key); err != nil {
		s.log().Info("cooldown of a failed report not released", slog.String("user_id", r.User.ID), slog.String("error", err.Error()))
	}
}

// claimCooldown starts the member's cooldown for the report of
// interactionID, atomically: of two reports submitted at once, one gets
// it and the other is refused. A replay of the same interaction passes.
// The release undoes it, for a report that was not stored after all.
func (s *Service) claimCooldown(ctx context.Context, u User, interactionID string) (release func(), err error) {
	none := func() {}
	if s.ReportCooldown <= 0 || s.isStaff(u) {
		return none, nil
	}
	now := s.now()
	payload, err := json.Marshal(cooldownRecord{Interaction: interactionID})
	if err != nil {
		return none, fmt.Errorf("encode cooldown: %w", err)
	}
	key := cooldownKey(u.ID)
	rec := Job{ID: key, Kind: JobCooldown, Payload: payload, Status: JobDone, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.ReportCooldown)}
	first, err := s.Store.ClaimJob(ctx, key, s.ReportCooldown, rec)
	if err != nil {
		return none, fmt.Errorf("claim the cooldown of %s: %w", u.ID, err)
	}
	if !first {
		held, err := s.Store.GetJob(ctx, key)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return none, fmt.Errorf("read the cooldown of %s: %w", u.ID, err)
		}
		var c cooldownRecord
		if err == nil && json.Unmarshal(held.Payload, &c) == nil && c.Interaction == interactionID {
			return none, nil // a replay of the report that holds it
		}
		until := now.Add(s.ReportCooldown)
		if err == nil {
			until = held.ExpiresAt
		}
		return none, cooldownError(until)
	}
	return func() {
		// A fresh context: the release must happen although the
		// request's may have ended.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer cancel()
		rec.ExpiresAt = s.now()
		if err := s.Store.PutJob(ctx, rec); err != nil {
			s.log().Warn("cooldown not released: the member waits it out", slog.String("user_id", u.ID), slog.String("error", err.Error()))
		}
		if err := s.Store.Release(ctx, key); err != nil {
			s.log().Warn("cooldown not released: the member waits it out", slog.String("user_id", u.ID), slog.String("error", err.Error()))
		}
	}, nil
}
