package awslambda_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdklambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sdesk/sdesk/pkg/awslambda"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

const (
	keyID  = "AKIDEXAMPLE"
	secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	region = "eu-central-1"
)

// seen is a request as the Lambda API received it.
type seen struct {
	Method, RawPath, Host string
	Header                http.Header
	ContentLength         int64
	Body                  []byte
}

// lambdaAPI is a real HTTP server standing for the Lambda Invoke API: it
// records each request and answers with the next of statuses (202 once
// they are used up).
type lambdaAPI struct {
	srv *httptest.Server

	mu       sync.Mutex
	seen     []seen
	statuses []int
}

func newLambdaAPI(t *testing.T, statuses ...int) *lambdaAPI {
	api := &lambdaAPI{statuses: statuses}
	api.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		api.mu.Lock()
		api.seen = append(api.seen, seen{Method: r.Method, RawPath: r.URL.EscapedPath(), Host: r.Host, Header: r.Header.Clone(), ContentLength: r.ContentLength, Body: body})
		status := http.StatusAccepted
		if len(api.statuses) > 0 {
			status, api.statuses = api.statuses[0], api.statuses[1:]
		}
		api.mu.Unlock()
		if status != http.StatusAccepted {
			w.Header().Set("X-Amzn-Errortype", "TooManyRequestsException:http://internal.amazon.com/coral/com.amazonaws.awslambda/")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"Type":"User","message":"Rate Exceeded."}`)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(api.srv.Close)
	return api
}

func (api *lambdaAPI) requests() []seen {
	api.mu.Lock()
	defer api.mu.Unlock()
	return slices.Clone(api.seen)
}

func creds(token string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(keyID, secret, token)
}

// verifySigV4 checks r's Authorization header by computing Signature
// Version 4 from scratch
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
// independently of the SDK's signer: the canonical request (the path's
// segments encoded once more, as every service but S3 wants), the string
// to sign over the credential scope, and the HMAC-SHA256 key chain.
func verifySigV4(r seen, secret, region, service string) error {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return fmt.Errorf("authorization %q: not AWS4-HMAC-SHA256", auth)
	}
	parts := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		parts[k] = v
	}
	scope := strings.SplitN(parts["Credential"], "/", 2)
	if len(scope) != 2 {
		return fmt.Errorf("credential %q", parts["Credential"])
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if len(amzDate) < 8 {
		return fmt.Errorf("x-amz-date %q", amzDate)
	}
	wantScope := amzDate[:8] + "/" + region + "/" + service + "/aws4_request"
	if scope[1] != wantScope {
		return fmt.Errorf("scope: got %s, want %s", scope[1], wantScope)
	}
	signed := strings.Split(parts["SignedHeaders"], ";")
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-amz-date") {
		return fmt.Errorf("signed headers %v lack host or x-amz-date", signed)
	}
	var canonHeaders strings.Builder
	for _, h := range signed {
		var v string
		switch h {
		case "host":
			v = r.Host
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		default:
			v = strings.Join(r.Header.Values(h), ",")
		}
		canonHeaders.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	segs := strings.Split(r.RawPath, "/")
	for i, s := range segs {
		segs[i] = uriEncode(s)
	}
	sum := sha256.Sum256(r.Body)
	canonical := strings.Join([]string{r.Method, strings.Join(segs, "/"), "", canonHeaders.String(), parts["SignedHeaders"], hex.EncodeToString(sum[:])}, "\n")
	creq := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + wantScope + "\n" + hex.EncodeToString(creq[:])
	mac := func(key []byte, s string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(s))
		return h.Sum(nil)
	}
	key := mac(mac(mac(mac([]byte("AWS4"+secret), amzDate[:8]), region), service), "aws4_request")
	if got, want := parts["Signature"], hex.EncodeToString(mac(key, toSign)); got != want {
		return fmt.Errorf("signature: got %s, want %s (canonical request %q)", got, want, canonical)
	}
	return nil
}

// uriEncode is SigV4's UriEncode: every byte but A-Z a-z 0-9 - . _ ~ as
// %XX.
func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// The request matches the one the SDK's Lambda client sends for the same
// Invoke, and both signatures verify.
func TestInvokeEventAsTheSDKSendsIt(t *testing.T) {
	for _, tc := range []struct{ name, function, token string }{
		{"name", "sdesk-interactions", ""},
		{"arn with qualifier", "arn:aws:lambda:eu-central-1:123456789012:function:sdesk-interactions:live", ""},
		{"session token", "sdesk-interactions", "FwoGZXIvYXdzEXAMPLETOKEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newLambdaAPI(t)
			payload := []byte(`{"sdesk_job":{"id":"j1","kind":"report"}}`)
			sdk := sdklambda.New(sdklambda.Options{Region: region, BaseEndpoint: aws.String(api.srv.URL), Credentials: creds(tc.token)})
			if _, err := sdk.Invoke(context.Background(), &sdklambda.InvokeInput{
				FunctionName: aws.String(tc.function), InvocationType: types.InvocationTypeEvent, Payload: payload,
			}); err != nil {
				t.Fatalf("SDK Invoke: %v", err)
			}
			c := &awslambda.Client{Endpoint: api.srv.URL, Region: region, Credentials: creds(tc.token)}
			if err := c.InvokeEvent(context.Background(), tc.function, payload); err != nil {
				t.Fatalf("InvokeEvent: got %v, want nil", err)
			}
			reqs := api.requests()
			if len(reqs) != 2 {
				t.Fatalf("requests: got %d, want 2", len(reqs))
			}
			want, got := reqs[0], reqs[1]
			if err := verifySigV4(want, secret, region, "lambda"); err != nil {
				t.Fatalf("the SDK's request does not verify (the verifier is wrong): %v", err)
			}
			if err := verifySigV4(got, secret, region, "lambda"); err != nil {
				t.Errorf("signature: %v", err)
			}
			if got.Method != want.Method || got.RawPath != want.RawPath || string(got.Body) != string(want.Body) {
				t.Errorf("request: got %s %s %s, want %s %s %s", got.Method, got.RawPath, got.Body, want.Method, want.RawPath, want.Body)
			}
			for _, h := range []string{"X-Amz-Invocation-Type", "Content-Type", "X-Amz-Security-Token"} {
				if got.Header.Get(h) != want.Header.Get(h) {
					t.Errorf("%s: got %q, want %q", h, got.Header.Get(h), want.Header.Get(h))
				}
			}
		})
	}
}

// Throttling and server errors are retried, a refusal is not; the error
// names Lambda's error type and wraps ErrInvoke.
func TestInvokeEventRetries(t *testing.T) {
	for _, tc := range []struct {
		name         string
		statuses     []int
		wantRequests int
		wantErr      bool
	}{
		{"accepted", nil, 1, false},
		{"throttled once", []int{429}, 2, false},
		{"server error twice", []int{500, 503}, 3, false},
		{"throttled thrice", []int{429, 429, 429}, 3, true},
		{"refused", []int{400}, 1, true},
		{"forbidden", []int{403}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newLambdaAPI(t, tc.statuses...)
			c := &awslambda.Client{Endpoint: api.srv.URL, Region: region, Credentials: creds("")}
			err := c.InvokeEvent(context.Background(), "fn", []byte(`{}`))
			if got := len(api.requests()); got != tc.wantRequests {
				t.Errorf("requests: got %d, want %d", got, tc.wantRequests)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("error: got %v, want error %v", err, tc.wantErr)
			}
			if err != nil && (!errors.Is(err, awslambda.ErrInvoke) || !strings.Contains(err.Error(), "TooManyRequestsException")) {
				t.Errorf("error: got %v, want it to wrap ErrInvoke and name the error type", err)
			}
		})
	}
}

// A cancelled context stops the retries.
func TestInvokeEventStopsWithContext(t *testing.T) {
	always := make([]int, 100)
	for i := range always {
		always[i] = http.StatusInternalServerError
	}
	api := newLambdaAPI(t, always...)
	c := &awslambda.Client{Endpoint: api.srv.URL, Region: region, Attempts: 100}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.InvokeEvent(ctx, "fn", []byte(`{}`))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error: got %v, want one wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("returned after %s, want soon after the context ended", d)
	}
}

// Without an endpoint, the region's public endpoint is called.
func TestInvokeEventRegionEndpoint(t *testing.T) {
	api := newLambdaAPI(t)
	target, _ := url.Parse(api.srv.URL)
	var mu sync.Mutex
	var hosts []string
	// The transport sends every request to the fake, keeping the host it
	// was meant for.
	rt := roundTrip(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		hosts = append(hosts, r.URL.Scheme+"://"+r.URL.Host)
		mu.Unlock()
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
		return http.DefaultTransport.RoundTrip(r)
	})
	for _, tc := range []struct{ region, want string }{
		{"eu-central-1", "https://lambda.eu-central-1.amazonaws.com"},
		{"cn-north-1", "https://lambda.cn-north-1.amazonaws.com.cn"},
	} {
		c := &awslambda.Client{Region: tc.region, Credentials: creds(""), HTTPClient: &http.Client{Transport: rt}}
		if err := c.InvokeEvent(context.Background(), "fn", []byte(`{}`)); err != nil {
			t.Fatalf("%s: %v", tc.region, err)
		}
		mu.Lock()
		got := hosts[len(hosts)-1]
		mu.Unlock()
		if got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.region, got, tc.want)
		}
	}
	if err := (&awslambda.Client{}).InvokeEvent(context.Background(), "fn", []byte(`{}`)); err == nil {
		t.Error("no region and no endpoint: got nil, want an error")
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The Queue sends the job's reference, nothing more.
func TestQueueEnqueue(t *testing.T) {
	api := newLambdaAPI(t)
	q := &awslambda.Queue{Client: &awslambda.Client{Endpoint: api.srv.URL, Region: region, Credentials: creds("")}, Function: "sdesk-jobs"}
	if err := q.Enqueue(context.Background(), sdesk.Job{ID: "abc", Kind: "report", Payload: []byte(`{"secret":"x"}`)}); err != nil {
		t.Fatal(err)
	}
	reqs := api.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests: got %d, want 1", len(reqs))
	}
	if got, want := string(reqs[0].Body), `{"sdesk_job":{"id":"abc","kind":"report"}}`; got != want {
		t.Errorf("payload: got %s, want %s", got, want)
	}
	if got, want := reqs[0].RawPath, "/2015-03-31/functions/sdesk-jobs/invocations"; got != want {
		t.Errorf("path: got %s, want %s", got, want)
	}
}

// FuzzInvokeEventFunctionName: whatever the function name, the request
// goes to exactly one path segment under /2015-03-31/functions/ that
// decodes to the name, and its signature verifies.
func FuzzInvokeEventFunctionName(f *testing.F) {
	for _, s := range []string{"fn", "arn:aws:lambda:eu-central-1:123456789012:function:fn:live", "a/b", "a b%2F", "..", "ü?#&=+", "\x00\xff"} {
		f.Add(s)
	}
	var mu sync.Mutex
	var last seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = seen{Method: r.Method, RawPath: r.URL.EscapedPath(), Host: r.Host, Header: r.Header.Clone(), ContentLength: r.ContentLength, Body: body}
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	c := &awslambda.Client{Endpoint: srv.URL, Region: region, Credentials: creds("")}
	f.Fuzz(func(t *testing.T, name string) {
		err := c.InvokeEvent(context.Background(), name, []byte(`{}`))
		if name == "" {
			if err == nil {
				t.Fatal("empty name: got nil, want an error")
			}
			return
		}
		if err != nil {
			t.Fatalf("InvokeEvent(%q): %v", name, err)
		}
		mu.Lock()
		r := last
		mu.Unlock()
		seg, ok := strings.CutPrefix(r.RawPath, "/2015-03-31/functions/")
		seg, ok2 := strings.CutSuffix(seg, "/invocations")
		if !ok || !ok2 || strings.Contains(seg, "/") {
			t.Fatalf("path %q: want one segment under /2015-03-31/functions/", r.RawPath)
		}
		if dec, err := url.PathUnescape(seg); err != nil || dec != name {
			t.Fatalf("segment %q decodes to %q (%v), want %q", seg, dec, err, name)
		}
		if err := verifySigV4(r, secret, region, "lambda"); err != nil {
			t.Fatal(err)
		}
	})
}
