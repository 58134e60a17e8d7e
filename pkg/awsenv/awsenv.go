// Package awsenv builds an aws.Config from environment variables alone, as
// Lambda provides them (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), and resolves the AWS_ENDPOINT_URL variables. It does
// not import aws-sdk-go-v2/config, whose shared-config, SSO and STS
// machinery would push the Lambda bootstraps over their 12 MB budget;
// `sdesk serve` loads the full default chain instead (cmd/sdesk).
package awsenv

import (
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Config returns the configuration in the environment. Credentials are nil
// when the environment has none.
func Config() aws.Config {
	cfg := aws.Config{Region: first("AWS_REGION", "AWS_DEFAULT_REGION")}
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id != "" && secret != "" {
		cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN")))
	}
	return cfg
}

// Endpoint returns AWS_ENDPOINT_URL_<SERVICE> (service like "DYNAMODB"),
// else AWS_ENDPOINT_URL, else "": the SDK's own rule for these variables.
func Endpoint(service string) string {
	return first("AWS_ENDPOINT_URL_"+strings.ToUpper(service), "AWS_ENDPOINT_URL")
}

func first(names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(os.Getenv(n)); v != "" {
			return v
		}
	}
	return ""
}
