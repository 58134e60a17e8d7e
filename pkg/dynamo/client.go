package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/sdesk/sdesk/pkg/awsenv"
)

// Settings used against a local endpoint (DynamoDB Local) when the
// configuration has none: it accepts any credentials and region.
const (
	localRegion = "us-east-1"
	localKeyID  = "local"
	localSecret = "local"
)

// ErrNoTable is wrapped by the error of every call of a client from
// NewClient on a table that does not exist where the client looks (DynamoDB
// answers ResourceNotFoundException,
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_GetItem.html#API_GetItem_Errors).
// The error names the table, where it was looked for, the variable that
// names it (SDESK_TABLE) and how to create it; the SDK's
// *types.ResourceNotFoundException stays reachable with errors.As.
var ErrNoTable = errors.New("DynamoDB table not found")

// NewClient returns a DynamoDB client for cfg. endpoint (DYNAMODB_ENDPOINT)
// overrides AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL; with any
// endpoint, a missing region or missing credentials get local defaults, so
// DynamoDB Local works on a fresh machine. A call on a missing table fails
// with an error wrapping ErrNoTable.
func NewClient(cfg aws.Config, endpoint string) *dynamodb.Client {
	if endpoint == "" {
		endpoint = awsenv.Endpoint("DYNAMODB")
	}
	if endpoint == "" {
		return dynamodb.NewFromConfig(cfg, explainMissingTable("region "+cfg.Region))
	}
	if cfg.Region == "" {
		cfg.Region = localRegion
	}
	if cfg.Credentials == nil {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(localKeyID, localSecret, "")
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	}, explainMissingTable(endpoint))
}

// explainMissingTable turns the ResourceNotFoundException of a call into an
// error that says which table is missing where (an endpoint, or "region
// X") and what to do.
func explainMissingTable(where string) func(*dynamodb.Options) {
	mw := middleware.InitializeMiddlewareFunc("sdeskExplainMissingTable", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleInitialize(ctx, in)
		var nf *types.ResourceNotFoundException
		if err != nil && errors.As(err, &nf) {
			err = fmt.Errorf("%w: %q at %s (SDESK_TABLE): create it (`make local` creates sdesk-local in DynamoDB Local; "+
				"`sam deploy` creates the stack's table, named by its output TableName) or set SDESK_TABLE to an existing table "+
				"(and AWS_REGION or DYNAMODB_ENDPOINT to where it is): %w", ErrNoTable, tableOf(in.Parameters), where, err)
		}
		return out, md, err
	})
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(mw, middleware.After)
		})
	}
}

// tableOf is the table a DynamoDB call names.
func tableOf(params any) string {
	var name *string
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		name = in.TableName
	case *dynamodb.PutItemInput:
		name = in.TableName
	case *dynamodb.UpdateItemInput:
		name = in.TableName
	case *dynamodb.DeleteItemInput:
		name = in.TableName
	case *dynamodb.QueryInput:
		name = in.TableName
	case *dynamodb.ScanInput:
		name = in.TableName
	case *dynamodb.DescribeTableInput:
		name = in.TableName
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				name = it.Put.TableName
			case it.Update != nil:
				name = it.Update.TableName
			case it.Delete != nil:
				name = it.Delete.TableName
			case it.ConditionCheck != nil:
				name = it.ConditionCheck.TableName
			}
			if name != nil {
				break
			}
		}
	}
	return aws.ToString(name)
}
