package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/smithy-go/logging"

	"github.com/sdesk/sdesk/pkg/awsenv"
)

// errNoAWSCredentials is wrapped by the error of every AWS call of a
// configuration from awsConfig whose credentials could not be found or
// refreshed; awsHint puts the fix before it. errNoAWSRegion is wrapped by
// awsConfig's error when no region is configured.
var (
	errNoAWSCredentials = errors.New("no AWS credentials")
	errNoAWSRegion      = errors.New("no AWS region")
)

// fixAWSCredentials and fixAWSRegion say what to do, as doctor's store
// check does.
const (
	fixAWSCredentials = "sdesk found no AWS credentials for the DynamoDB table (SDESK_STORE=dynamodb): set AWS_PROFILE to a profile " +
		"of ~/.aws/config (after `aws sso login --profile NAME` for SSO), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, " +
		"or run where an instance or task role applies; for DynamoDB Local, set DYNAMODB_ENDPOINT"
	fixAWSRegion = "sdesk found no AWS region for the DynamoDB table (SDESK_STORE=dynamodb): set AWS_REGION to the table's region " +
		"(or give the AWS_PROFILE profile a region); for DynamoDB Local, set DYNAMODB_ENDPOINT"
)

// awsConfig loads the SDK's full default chain (environment, shared config
// and credentials files, SSO, container and instance roles) for `sdesk
// serve` and the CLI. The SDK's own log lines ("falling back to IMDSv1",
// "failed to close HTTP response body") go to log at debug, not to the
// process's standard error. With a local endpoint (DYNAMODB_ENDPOINT) and
// no credentials anywhere, the credentials are left nil so that the
// DynamoDB adapter uses local ones and DynamoDB Local works on a fresh
// machine; without any endpoint (AWS_ENDPOINT_URL_DYNAMODB and
// AWS_ENDPOINT_URL count), a missing region is an error naming AWS_REGION,
// and credentials that cannot be found make each call's error wrap
// errNoAWSCredentials.
func awsConfig(getenv func(string) string, log *slog.Logger) func(context.Context) (aws.Config, error) {
	return func(ctx context.Context) (aws.Config, error) {
		sdkLog := config.WithLogger(sdkLogger{log})
		cfg, err := config.LoadDefaultConfig(ctx, sdkLog)
		if err != nil {
			return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
		}
		local := getenv("DYNAMODB_ENDPOINT") != ""
		switch {
		case local && !credentialsConfigured(ctx, sdkLog):
			cfg.Credentials = nil
		case !local && awsenv.Endpoint("DYNAMODB") == "" && cfg.Region == "":
			// Any endpoint gets a local region (dynamo.NewClient).
			return aws.Config{}, fmt.Errorf("%s: %w", fixAWSRegion, errNoAWSRegion)
		}
		if cfg.Credentials != nil {
			cfg.Credentials = explainedCredentials{cfg.Credentials}
		}
		return cfg, nil
	}
}

// credentialsConfigured reports whether credentials are configured, without
// asking the EC2 instance metadata service (slow or hanging off EC2).
func credentialsConfigured(ctx context.Context, opts ...func(*config.LoadOptions) error) bool {
	cfg, err := config.LoadDefaultConfig(ctx, append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))...)
	if err != nil || cfg.Credentials == nil {
		return false
	}
	_, err = cfg.Credentials.Retrieve(ctx)
	return err == nil
}

// explainedCredentials marks a failure to retrieve credentials with
// errNoAWSCredentials.
type explainedCredentials struct{ aws.CredentialsProvider }

// Retrieve implements aws.CredentialsProvider.
func (p explainedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := p.CredentialsProvider.Retrieve(ctx)
	if err != nil {
		return c, fmt.Errorf("%w: %w", errNoAWSCredentials, err)
	}
	return c, nil
}

// awsHint puts the fix before an error of an AWS call that found no
// credentials; other errors are returned as they are.
func awsHint(err error) error {
	if errors.Is(err, errNoAWSCredentials) {
		return fmt.Errorf("%s: %w", fixAWSCredentials, err)
	}
	return err
}

// sdkLogger is the AWS SDK's logging.Logger writing to a slog.Logger at
// debug, the SDK's classification (WARN, DEBUG) as the attribute
// aws_sdk_level.
type sdkLogger struct{ log *slog.Logger }

// Logf implements logging.Logger.
func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	l.log.LogAttrs(context.Background(), slog.LevelDebug, fmt.Sprintf(format, v...),
		slog.String("source", "aws-sdk"), slog.String("aws_sdk_level", string(c)))
}
