package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Fallbacks used with an explicit endpoint (DynamoDB Local) on a machine
// that has no AWS configuration at all.
const (
	localRegion = "us-east-1"
	localKeyID  = "local"
	localSecret = "local"
)

// NewClient returns a DynamoDB client configured the standard way
// (config.LoadDefaultConfig, so AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_DYNAMODB keep working).
//
// A non-empty endpoint (DYNAMODB_ENDPOINT) overrides the client's base
// endpoint. With an endpoint, a missing region defaults to us-east-1 and,
// when no credentials are configured (environment, shared files, SSO,
// container or web identity; the EC2 instance role is not probed), static
// dummy credentials are used so DynamoDB Local works on a fresh machine.
func NewClient(ctx context.Context, endpoint string) (*dynamodb.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("dynamo: load AWS config: %w", err)
	}
	if endpoint == "" {
		return dynamodb.NewFromConfig(cfg), nil
	}
	if cfg.Region == "" {
		cfg.Region = localRegion
	}
	if !credentialsConfigured(ctx) {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(localKeyID, localSecret, "")
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	}), nil
}

// credentialsConfigured reports whether the default credential chain finds
// credentials without asking the EC2 instance metadata service (which can
// take seconds to time out, or log warnings, off EC2).
func credentialsConfigured(ctx context.Context) bool {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	if err != nil || cfg.Credentials == nil {
		return false
	}
	_, err = cfg.Credentials.Retrieve(ctx)
	return err == nil
}
