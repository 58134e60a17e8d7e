package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// awsConfig loads the SDK's full default chain (environment, shared config
// and credentials files, SSO, container and instance roles) for `sdesk
// serve` and the CLI. With a local endpoint (DYNAMODB_ENDPOINT) and no
// credentials anywhere, the credentials are left nil so that the DynamoDB
// adapter uses local ones and DynamoDB Local works on a fresh machine.
func awsConfig(getenv func(string) string) func(context.Context) (aws.Config, error) {
	return func(ctx context.Context) (aws.Config, error) {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
		}
		if getenv("DYNAMODB_ENDPOINT") != "" && !credentialsConfigured(ctx) {
			cfg.Credentials = nil
		}
		return cfg, nil
	}
}

// credentialsConfigured reports whether credentials are configured, without
// asking the EC2 instance metadata service (slow or hanging off EC2).
func credentialsConfigured(ctx context.Context) bool {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	if err != nil || cfg.Credentials == nil {
		return false
	}
	_, err = cfg.Credentials.Retrieve(ctx)
	return err == nil
}
