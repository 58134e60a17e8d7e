package bench_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
)

// The test binary doubles as the programs the harness runs, chosen by
// BENCH_ROLE: a Lambda function (for the fake Runtime API) and a stand-in
// for `sdesk serve`.
func TestMain(m *testing.M) {
	switch os.Getenv("BENCH_ROLE") {
	case "lambda-echo":
		// Answers {"echo": <event>}.
		lambda.Start(func(_ context.Context, ev json.RawMessage) (any, error) {
			return map[string]json.RawMessage{"echo": ev}, nil
		})
	case "lambda-error":
		lambda.Start(func(context.Context, json.RawMessage) (any, error) { return nil, errors.New("handler failed") })
	case "exit":
		fmt.Fprintln(os.Stderr, "bad configuration: nothing set")
		os.Exit(1)
	case "serve":
		fakeServe()
	case "":
		os.Exit(m.Run())
	}
	os.Exit(3)
}

// fakeServe logs what `sdesk serve` logs once it listens, serves
// /healthz, and stops on SIGTERM.
func fakeServe() {
	ln, err := net.Listen("tcp", os.Getenv("SDESK_ADDR"))
	if err != nil {
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, `{"level":"INFO","msg":"config loaded"}`)
	b, _ := json.Marshal(map[string]string{"level": "INFO", "msg": "sdesk serving", "addr": ln.Addr().String()})
	fmt.Fprintln(os.Stderr, string(b))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(os.Stderr, `{"level":"INFO","msg":"request","path":"`+r.URL.Path+`"}`)
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	go func() { <-stop; _ = srv.Close() }()
	_ = srv.Serve(ln)
	os.Exit(0)
}
