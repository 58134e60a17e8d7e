// Package awslambda runs sdesk on AWS Lambda: one entry point that serves
// HTTP API (payload 2.0) events through the shared http.Handler and runs
// deferred jobs that the function sent to itself with an asynchronous
// Invoke.
package awslambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// JobEvent is the payload of an asynchronous self-invocation. It carries
// only the job's ID and kind: the job itself, with its completed steps, is
// in the store.
type JobEvent struct {
	Job *JobRef `json:"sdesk_job"`
}

// JobRef names a stored job.
type JobRef struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
}

// Queue enqueues jobs by invoking Function asynchronously
// (InvocationType Event): Lambda retries a failed job twice and sends a
// final failure to the on-failure destination (template.yaml).
type Queue struct {
	Client   *Client
	Function string
}

var _ sdesk.Queue = (*Queue)(nil)

// Enqueue implements sdesk.Queue.
func (q *Queue) Enqueue(ctx context.Context, j sdesk.Job) error {
	b, err := json.Marshal(JobEvent{Job: &JobRef{ID: j.ID, Kind: j.Kind}})
	if err != nil {
		return fmt.Errorf("encode job event: %w", err)
	}
	if err := q.Client.InvokeEvent(ctx, q.Function, b); err != nil {
		return fmt.Errorf("invoke %s: %w", q.Function, err)
	}
	return nil
}

// JobDeadlineMargin is how long before the function's deadline a job
// attempt stops.
const JobDeadlineMargin = 15 * time.Second

// Jobs runs stored jobs.
type Jobs interface {
	RunJob(ctx context.Context, j sdesk.Job) error
	Failed(ctx context.Context, id string) bool
}

// Handler returns the function's entry point: job events go to jobs (nil in
// a function that runs none), everything else is an HTTP API event for h.
// A job attempt that fails returns an error so that Lambda retries it; one
// that failed for good returns an error too, so that it lands in the
// on-failure destination.
func Handler(h http.Handler, jobs Jobs) func(ctx context.Context, payload json.RawMessage) (any, error) {
	adapter := httpadapter.NewV2(h)
	return func(ctx context.Context, payload json.RawMessage) (any, error) {
		var je JobEvent
		if err := json.Unmarshal(payload, &je); err == nil && je.Job != nil {
			if jobs == nil {
				return nil, errors.New("this function runs no jobs")
			}
			if je.Job.ID == "" {
				return nil, errors.New("job event without an id")
			}
			// End the attempt before Lambda kills the function, so that
			// its outcome is recorded and its lease released.
			if dl, ok := ctx.Deadline(); ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, dl.Add(-JobDeadlineMargin))
				defer cancel()
			}
			err := jobs.RunJob(ctx, sdesk.Job{ID: je.Job.ID, Kind: je.Job.Kind})
			if errors.Is(err, sdesk.ErrJobBusy) {
				// Another delivery of this event runs the job now.
				return map[string]string{"status": "running elsewhere"}, nil
			}
			if err != nil {
				return nil, err
			}
			if jobs.Failed(ctx, je.Job.ID) {
				return nil, fmt.Errorf("job %s failed for good", je.Job.ID)
			}
			return map[string]string{"status": "done"}, nil
		}
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, fmt.Errorf("decode event: %w", err)
		}
		return adapter.ProxyWithContext(ctx, req)
	}
}
