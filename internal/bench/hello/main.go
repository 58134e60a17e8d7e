// Command hello is the floor of the cold-start benchmark (internal/bench):
// the smallest aws-lambda-go function, built with the flags of the sdesk
// bootstraps. It answers every event with the same JSON string.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (string, error) { return "hello", nil })
}
