package sdesk

import (
	"errors"
	"fmt"
	"time"
)

// PermanentError is an answer from Discord or GitLab that no retry can
// change: the thing is gone (Discord 10003 unknown channel, 10008 unknown
// message, 10015 unknown webhook; GitLab 404, 410), sdesk may not do it
// (Discord 50001 missing access, 50013 missing permissions; GitLab 403), or
// the interaction token has expired (Discord 50027, after 15 minutes).
// Adapters wrap such answers in it; the domain ends the step with one WARN
// line that carries Fix, and goes on with the rest of the job.
type PermanentError struct {
	Err error  // the adapter's error
	Fix string // what an operator can do, one sentence
	// Why is the reason in plain words for a Discord user or a GitLab
	// note ("the server has too many open threads"); may be empty.
	Why string
}

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError with an operator's fix.
func Permanent(err error, fix string) error {
	return &PermanentError{Err: err, Fix: fix}
}

// IsPermanent reports whether err's chain holds a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// RateLimitedError is a rate limit whose wait would not fit the caller's
// deadline (Discord allows two thread renames per 10 minutes and answers
// the third with a retry_after of several minutes). The adapter returns it
// at once instead of waiting; After is Discord's retry_after.
type RateLimitedError struct {
	Op    string
	After time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("%s: rate limited for %s", e.Op, e.After.Round(time.Second))
}

// IsRateLimited reports whether err's chain holds a RateLimitedError.
func IsRateLimited(err error) bool {
	var r *RateLimitedError
	return errors.As(err, &r)
}
