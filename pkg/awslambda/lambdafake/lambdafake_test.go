package lambdafake_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sdesk/sdesk/pkg/awslambda/lambdafake"
)

func client(fake *lambdafake.Server) *awslambda.Client {
	return awslambda.New(awslambda.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(fake.URL()),
		Credentials:  aws.AnonymousCredentials{},
	})
}

func invokeAsync(t *testing.T, c *awslambda.Client, payload string) {
	t.Helper()
	out, err := c.Invoke(t.Context(), &awslambda.InvokeInput{
		FunctionName:   aws.String("sdesk-jobs"),
		InvocationType: types.InvocationTypeEvent,
		Payload:        []byte(payload),
	})
	if err != nil {
		t.Fatalf("Invoke: got error %v, want nil", err)
	}
	if out.StatusCode != 202 {
		t.Fatalf("Invoke: got status %d, want 202", out.StatusCode)
	}
}

// Wait covers an invocation that is still running, when only the HTTP
// answer lies between the invoker and Wait.
func TestWaitCoversRunningInvocation(t *testing.T) {
	fake := lambdafake.New(t)
	release := make(chan struct{})
	done := make(chan struct{}, 1)
	fake.SetHandler(lambda.NewHandler(func(_ context.Context, _ json.RawMessage) error {
		<-release
		done <- struct{}{}
		return nil
	}))
	invokeAsync(t, client(fake), `{"n":1}`)
	go close(release)
	fake.Wait()
	select {
	case <-done:
	default:
		t.Fatal("Wait returned before the invocation ended")
	}
	if got := fake.Functions(); len(got) != 1 || got[0] != "sdesk-jobs" {
		t.Errorf("Functions: got %v, want [sdesk-jobs]", got)
	}
}

func TestFailedInvocationIsRetriedThenDeadLettered(t *testing.T) {
	fake := lambdafake.New(t)
	fake.SetHandler(lambda.NewHandler(func(_ context.Context, _ json.RawMessage) error {
		return errors.New("boom")
	}))
	invokeAsync(t, client(fake), `{"n":2}`)
	fake.Wait()
	if got, want := fake.Attempts(), 1+lambdafake.Retries; got != want {
		t.Errorf("Attempts: got %d, want %d", got, want)
	}
	if got := fake.DeadLetters(); len(got) != 1 || string(got[0]) != `{"n":2}` {
		t.Errorf("DeadLetters: got %q, want the one event", got)
	}
}
