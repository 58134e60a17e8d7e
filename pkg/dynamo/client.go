package dynamo

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/sdesk/sdesk/pkg/awsenv"
)

// Settings used against a local endpoint (DynamoDB Local) when the
// configuration has none: it accepts any credentials and region.
const (
	localRegion = "us-east-1"
	localKeyID  = "local"
	localSecret = "local"
)

// NewClient returns a DynamoDB client for cfg. endpoint (DYNAMODB_ENDPOINT)
// overrides AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL; with any
// endpoint, a missing region or missing credentials get local defaults, so
// DynamoDB Local works on a fresh machine.
func NewClient(cfg aws.Config, endpoint string) *dynamodb.Client {
	if endpoint == "" {
		endpoint = awsenv.Endpoint("DYNAMODB")
	}
	if endpoint == "" {
		return dynamodb.NewFromConfig(cfg)
	}
	if cfg.Region == "" {
		cfg.Region = localRegion
	}
	if cfg.Credentials == nil {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(localKeyID, localSecret, "")
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
}
