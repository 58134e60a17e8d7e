package sdesk

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// Pool runs deferred jobs in process (`sdesk serve`). Jobs are already
// stored when they are enqueued, and Start resumes every pending job, so a
// crash loses nothing. A failed attempt is retried after a backoff until
// Service.RunJob records a final outcome. Jobs of one issue's GitLab events
// run one at a time, in the order they came, so a thread gets its messages
// in order.
type Pool struct {
	Run     func(ctx context.Context, j Job) error // Service.RunJob
	Store   Store
	Workers int
	Logger  *slog.Logger
	// Backoff returns the wait before attempt n+1 (default 2s, 8s, 32s…).
	Backoff func(attempt int) time.Duration

	mu      sync.Mutex
	queue   []Job
	busy    map[string]bool // partitions with a running job
	wake    chan struct{}
	ctx     context.Context
	wg      sync.WaitGroup
	timers  sync.WaitGroup
	started bool
}

var _ Queue = (*Pool)(nil)

// Start resumes pending jobs and starts the workers; they stop when ctx is
// done (Wait waits for them).
func (p *Pool) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("pool already started")
	}
	p.started = true
	p.ctx = ctx
	p.wake = make(chan struct{}, 1)
	p.mu.Unlock()

	pending, err := p.Store.ListJobs(ctx, JobPending)
	if err != nil {
		return err
	}
	for _, j := range pending {
		p.push(j)
	}
	if len(pending) > 0 {
		p.log().Info("resuming pending jobs", slog.Int("jobs", len(pending)))
	}
	n := p.Workers
	if n <= 0 {
		n = 4
	}
	for range n {
		p.wg.Add(1)
		go p.work()
	}
	return nil
}

// Wait blocks until the workers have stopped.
func (p *Pool) Wait() {
	p.wg.Wait()
	p.timers.Wait()
}

// Enqueue queues a stored job. It never blocks.
func (p *Pool) Enqueue(_ context.Context, j Job) error {
	p.mu.Lock()
	started := p.started
	p.mu.Unlock()
	if !started {
		return errors.New("job pool not running")
	}
	p.push(j)
	return nil
}

func (p *Pool) push(j Job) {
	p.mu.Lock()
	p.queue = append(p.queue, j)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// partition groups jobs that must not run at the same time: the GitLab
// events of one issue.
func partition(j Job) string {
	if j.Kind == JobGitLabEvent {
		if iid := jobIssue(j); iid != 0 {
			return "issue:" + strconv.Itoa(iid)
		}
	}
	return "job:" + j.ID
}

// pop takes the oldest queued job whose partition is idle.
func (p *Pool) pop() (Job, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, j := range p.queue {
		key := partition(j)
		if p.busy[key] {
			continue
		}
		if p.busy == nil {
			p.busy = map[string]bool{}
		}
		p.busy[key] = true
		p.queue = append(p.queue[:i:i], p.queue[i+1:]...)
		if len(p.queue) > 0 {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
		return j, true
	}
	return Job{}, false
}

// done frees a job's partition and wakes a worker for what waited on it.
func (p *Pool) done(j Job) {
	p.mu.Lock()
	delete(p.busy, partition(j))
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *Pool) log() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

func (p *Pool) backoff(attempt int) time.Duration {
	if p.Backoff != nil {
		return p.Backoff(attempt)
	}
	d := 2 * time.Second
	for i := 1; i < attempt && d < 5*time.Minute; i++ {
		d *= 4
	}
	return d
}

func (p *Pool) work() {
	defer p.wg.Done()
	for {
		j, ok := p.pop()
		if !ok {
			select {
			case <-p.ctx.Done():
				return
			case <-p.wake:
				continue
			}
		}
		if p.ctx.Err() != nil {
			p.done(j)
			return // still pending in the store: resumed on the next start
		}
		if err := p.Run(p.ctx, j); err != nil {
			p.retryLater(j) // keeps the partition until the retry is queued
			continue
		}
		p.done(j)
	}
}

func (p *Pool) retryLater(j Job) {
	stored, err := p.Store.GetJob(context.WithoutCancel(p.ctx), j.ID)
	switch {
	case err != nil:
		// The store may be what failed: retry the job as we have it.
		p.log().Warn("job state unknown, retrying", slog.String("job_id", j.ID), slog.String("error", err.Error()))
		stored = j
	case stored.Status != JobPending:
		p.done(j)
		return
	}
	wait := p.backoff(stored.Attempts)
	p.timers.Add(1)
	go func() {
		defer p.timers.Done()
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-p.ctx.Done():
			p.done(j)
		case <-t.C:
			// First in line again, ahead of later jobs of its partition.
			p.mu.Lock()
			delete(p.busy, partition(stored))
			p.queue = append([]Job{stored}, p.queue...)
			p.mu.Unlock()
			p.done(stored)
		}
	}()
}
