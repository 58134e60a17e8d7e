package sdesk

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Pool runs deferred jobs in process (`sdesk serve`). Jobs are already
// stored when they are enqueued, and Start resumes every pending job, so a
// crash loses nothing. A failed attempt is retried after a backoff until
// Service.RunJob records a final outcome.
type Pool struct {
	Run     func(ctx context.Context, j Job) error // Service.RunJob
	Store   Store
	Workers int
	Logger  *slog.Logger
	// Backoff returns the wait before attempt n+1 (default 2s, 8s, 32s…).
	Backoff func(attempt int) time.Duration

	mu      sync.Mutex
	queue   []Job
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

func (p *Pool) pop() (Job, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		return Job{}, false
	}
	j := p.queue[0]
	p.queue = p.queue[1:]
	if len(p.queue) > 0 {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	return j, true
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
			return // still pending in the store: resumed on the next start
		}
		if err := p.Run(p.ctx, j); err != nil {
			p.retryLater(j)
		}
	}
}

func (p *Pool) retryLater(j Job) {
	stored, err := p.Store.GetJob(context.WithoutCancel(p.ctx), j.ID)
	if err != nil || stored.Status != JobPending {
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
		case <-t.C:
			p.push(stored)
		}
	}()
}
