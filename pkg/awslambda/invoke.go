package awslambda

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Client sends asynchronous invocations to the AWS Lambda Invoke API
// (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html): POST
// /2015-03-31/functions/{FunctionName}/invocations with
// X-Amz-Invocation-Type: Event, signed with Signature Version 4 for the
// service "lambda". It is the one Lambda call sdesk makes; the SDK's
// Lambda client, which holds every other operation too, costs the
// bootstraps about 0.9 MB and 1.6 ms of package initialization at each
// cold start (docs/SCALING.md, "Cold start").
type Client struct {
	// Endpoint is the API's base URL: AWS_ENDPOINT_URL_LAMBDA or
	// AWS_ENDPOINT_URL when set (awsenv.Endpoint), else
	// https://lambda.<region>.amazonaws.com (.amazonaws.com.cn in the
	// China regions).
	Endpoint string
	// Region signs the request (AWS_REGION).
	Region string
	// Credentials sign the request; nil sends it unsigned, which AWS
	// refuses (403) and a local fake accepts.
	Credentials aws.CredentialsProvider
	// HTTPClient sends it; nil uses one with a 30 s timeout.
	HTTPClient *http.Client
	// Attempts is how often a throttled (429), failed (5xx) or unanswered
	// call is tried in all; 0 means 3, as the SDK's standard retryer. A
	// retried call can invoke twice, which Lambda may do anyway: jobs are
	// idempotent.
	Attempts int
}

// NewClient returns a Client for cfg's region and credentials and endpoint
// (empty: the region's public endpoint).
func NewClient(cfg aws.Config, endpoint string) *Client {
	return &Client{Endpoint: endpoint, Region: cfg.Region, Credentials: cfg.Credentials}
}

// ErrInvoke is wrapped by the error of an invocation that Lambda refused:
// the error names the status, Lambda's error type (X-Amzn-Errortype) and
// message.
var ErrInvoke = errors.New("lambda refused the invocation")

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 64 << 10

// InvokeEvent invokes function (a name, an ARN or a name with a qualifier
// like "fn:live") asynchronously with payload (JSON, at most 1 MB for an
// asynchronous invocation: Lambda refuses more). Lambda answers 202 and
// queues the event; any other answer is an error wrapping ErrInvoke, after
// the retries that Attempts allows. ctx bounds every attempt and the
// waits between them.
func (c *Client) InvokeEvent(ctx context.Context, function string, payload []byte) error {
	if function == "" {
		return errors.New("no function name")
	}
	endpoint, err := c.endpoint()
	if err != nil {
		return err
	}
	u := endpoint + "/2015-03-31/functions/" + escapeSegment(function) + "/invocations"
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	var last error
	for i := range attempts {
		if i > 0 {
			// Full jitter over an exponential cap, as the SDK's retryer.
			wait := time.Duration(rand.Int64N(int64(100*time.Millisecond) << (i - 1)))
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("%w (then: %w)", last, ctx.Err())
			case <-t.C:
			}
		}
		retry, err := c.try(ctx, u, payload)
		if err == nil {
			return nil
		}
		last = err
		if !retry || ctx.Err() != nil {
			break
		}
	}
	return last
}

// try sends one attempt and says whether a failure may be retried.
func (c *Client) try(ctx context.Context, u string, payload []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return false, fmt.Errorf("build request: %w", err)
	}
	// As the SDK sends an Invoke: the payload is a blob.
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Amz-Invocation-Type", "Event")
	if c.Credentials != nil {
		creds, err := c.Credentials.Retrieve(ctx)
		if err != nil {
			return false, fmt.Errorf("AWS credentials: %w", err)
		}
		sum := sha256.Sum256(payload)
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", c.Region, time.Now().UTC()); err != nil {
			return false, fmt.Errorf("sign request: %w", err)
		}
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return true, fmt.Errorf("send: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode == http.StatusAccepted {
		return false, nil
	}
	kind := resp.Header.Get("X-Amzn-Errortype")
	kind, _, _ = strings.Cut(kind, ":") // "Type:http://internal.amazon.com/..."
	msg := strings.TrimSpace(string(body))
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	retry = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	return retry, fmt.Errorf("%w: status %d %s: %s", ErrInvoke, resp.StatusCode, kind, msg)
}

// escapeSegment percent-encodes every byte of s but the unreserved ones
// (RFC 3986: A-Z a-z 0-9 - . _ ~), as the SDK encodes a path label: an
// ARN's colons become %3A.
func escapeSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

var defaultHTTPClient = &http.Client{Timeout: 30 * time.Second}

// endpoint is the base URL, without a trailing slash.
func (c *Client) endpoint() (string, error) {
	if c.Endpoint != "" {
		return strings.TrimRight(c.Endpoint, "/"), nil
	}
	if c.Region == "" {
		return "", errors.New("no AWS region (AWS_REGION) and no endpoint (AWS_ENDPOINT_URL_LAMBDA)")
	}
	suffix := ".amazonaws.com"
	if strings.HasPrefix(c.Region, "cn-") {
		suffix = ".amazonaws.com.cn"
	}
	return "https://lambda." + c.Region + suffix, nil
}
