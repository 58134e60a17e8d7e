package dynamotest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sdesk/sdesk/pkg/dynamo/dynamotest"
)

// repoTemplate reads the repository's template.yaml (two levels up from
// pkg/dynamo/dynamotest).
func repoTemplate(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "template.yaml"))
	if err != nil {
		t.Fatalf("read template.yaml: %v", err)
	}
	return b
}

func keys(ks []types.KeySchemaElement) string {
	var parts []string
	for _, k := range ks {
		parts = append(parts, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
	}
	return strings.Join(parts, ",")
}

func TestTableInputFromRepoTemplate(t *testing.T) {
	in, err := dynamotest.TableInputFromTemplate(repoTemplate(t), "t1")
	if err != nil {
		t.Fatalf("TableInputFromTemplate: got error %v, want nil", err)
	}
	if got := aws.ToString(in.TableName); got != "t1" {
		t.Errorf("TableName: got %q, want %q", got, "t1")
	}
	if in.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("BillingMode: got %q, want %q", in.BillingMode, types.BillingModePayPerRequest)
	}
	var attrs []string
	for _, a := range in.AttributeDefinitions {
		attrs = append(attrs, aws.ToString(a.AttributeName)+":"+string(a.AttributeType))
	}
	if got, want := strings.Join(attrs, ","), "PK:S,SK:S,GSI1PK:S,GSI1SK:S"; got != want {
		t.Errorf("AttributeDefinitions: got %s, want %s", got, want)
	}
	if got, want := keys(in.KeySchema), "PK:HASH,SK:RANGE"; got != want {
		t.Errorf("KeySchema: got %s, want %s", got, want)
	}
	if len(in.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("GlobalSecondaryIndexes: got %d, want 1", len(in.GlobalSecondaryIndexes))
	}
	gsi := in.GlobalSecondaryIndexes[0]
	if got := aws.ToString(gsi.IndexName); got != "GSI1" {
		t.Errorf("GSI IndexName: got %q, want GSI1", got)
	}
	if got, want := keys(gsi.KeySchema), "GSI1PK:HASH,GSI1SK:RANGE"; got != want {
		t.Errorf("GSI KeySchema: got %s, want %s", got, want)
	}
	if gsi.Projection == nil || gsi.Projection.ProjectionType != types.ProjectionTypeAll {
		t.Errorf("GSI Projection: got %+v, want ALL", gsi.Projection)
	}
	if in.ProvisionedThroughput != nil {
		t.Errorf("ProvisionedThroughput: got %+v, want nil", in.ProvisionedThroughput)
	}

	ttl, err := dynamotest.TimeToLiveFromTemplate(repoTemplate(t), "t1")
	if err != nil {
		t.Fatalf("TimeToLiveFromTemplate: got error %v, want nil", err)
	}
	if ttl == nil || aws.ToString(ttl.TableName) != "t1" ||
		aws.ToString(ttl.TimeToLiveSpecification.AttributeName) != "expires_at" ||
		!aws.ToBool(ttl.TimeToLiveSpecification.Enabled) {
		t.Errorf("TimeToLiveFromTemplate: got %+v, want expires_at enabled on t1", ttl)
	}
}

const provisioned = `
Parameters:
  Env: {Type: String}
Resources:
  Other:
    Type: AWS::SQS::Queue
    Properties: {QueueName: !Sub "q-${Env}"}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "sdesk-${Env}"
      BillingMode: PROVISIONED
      ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: 2}
      AttributeDefinitions:
        - {AttributeName: id, AttributeType: N}
      KeySchema:
        - {AttributeName: id, KeyType: HASH}
      GlobalSecondaryIndexes:
        - IndexName: byName
          KeySchema: [{AttributeName: id, KeyType: HASH}]
          Projection: {ProjectionType: INCLUDE, NonKeyAttributes: [name, age]}
          ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}
      Tags:
        - {Key: env, Value: !Ref Env}
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: false}
`

func TestTableInputFromTemplate(t *testing.T) {
	in, err := dynamotest.TableInputFromTemplate([]byte(provisioned), "t2")
	if err != nil {
		t.Fatalf("TableInputFromTemplate: got error %v, want nil", err)
	}
	if in.BillingMode != types.BillingModeProvisioned {
		t.Errorf("BillingMode: got %q, want PROVISIONED", in.BillingMode)
	}
	if p := in.ProvisionedThroughput; p == nil || aws.ToInt64(p.ReadCapacityUnits) != 5 || aws.ToInt64(p.WriteCapacityUnits) != 2 {
		t.Errorf("ProvisionedThroughput: got %+v, want 5/2", p)
	}
	if got, want := keys(in.KeySchema), "id:HASH"; got != want {
		t.Errorf("KeySchema: got %s, want %s", got, want)
	}
	gsi := in.GlobalSecondaryIndexes[0]
	if got := strings.Join(gsi.Projection.NonKeyAttributes, ","); gsi.Projection.ProjectionType != types.ProjectionTypeInclude || got != "name,age" {
		t.Errorf("GSI Projection: got %s %s, want INCLUDE name,age", gsi.Projection.ProjectionType, got)
	}
	if gsi.ProvisionedThroughput == nil || aws.ToInt64(gsi.ProvisionedThroughput.ReadCapacityUnits) != 1 {
		t.Errorf("GSI ProvisionedThroughput: got %+v, want 1/1", gsi.ProvisionedThroughput)
	}
	ttl, err := dynamotest.TimeToLiveFromTemplate([]byte(provisioned), "t2")
	if err != nil || ttl != nil {
		t.Errorf("TimeToLiveFromTemplate with Enabled: false: got %+v, %v, want nil, nil", ttl, err)
	}
}

func TestTableInputFromTemplateErrors(t *testing.T) {
	tests := []struct {
		name, template, want string
	}{
		{"not yaml", "Resources: [", "dynamotest: template: yaml"},
		{"no resources", "Parameters: {}", "no Resources"},
		{"no table", "Resources: {Q: {Type: AWS::SQS::Queue}}", `no resource "Table"`},
		{"wrong type", "Resources: {Table: {Type: AWS::SQS::Queue, Properties: {}}}", "want AWS::DynamoDB::Table"},
		{"no key schema", "Resources: {Table: {Type: AWS::DynamoDB::Table, Properties: {BillingMode: PAY_PER_REQUEST}}}", "no KeySchema"},
		{"intrinsic where a value is needed", "Resources: {Table: {Type: AWS::DynamoDB::Table, Properties: {BillingMode: !Ref Mode}}}", "BillingMode: unsupported !Ref"},
		{"missing key type", "Resources: {Table: {Type: AWS::DynamoDB::Table, Properties: {KeySchema: [{AttributeName: PK}]}}}", "KeySchema[0].KeyType missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dynamotest.TableInputFromTemplate([]byte(tt.template), "t")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("TableInputFromTemplate: got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	t.Setenv(dynamotest.EnvEndpoint, "http://127.0.0.1:1")
	if got := dynamotest.Endpoint(t); got != "http://127.0.0.1:1" {
		t.Errorf("Endpoint: got %q, want %q", got, "http://127.0.0.1:1")
	}
}

// TestEndpointHelper is run by TestEndpointUnset in a child process.
func TestEndpointHelper(t *testing.T) {
	if os.Getenv("SDESK_DYNAMOTEST_CHILD") != "1" {
		t.Skip("helper for TestEndpointUnset")
	}
	dynamotest.Endpoint(t)
	t.Log("not stopped")
}

// TestEndpointUnset checks that a missing DYNAMODB_ENDPOINT skips the test,
// or fails it when SDESK_REQUIRE_DYNAMODB=1.
func TestEndpointUnset(t *testing.T) {
	tests := []struct {
		require  string
		wantFail bool
		want     string
	}{
		{"", false, "--- SKIP: TestEndpointHelper"},
		{"0", false, "--- SKIP: TestEndpointHelper"},
		{"1", true, "--- FAIL: TestEndpointHelper"},
	}
	for _, tt := range tests {
		t.Run("require="+tt.require, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestEndpointHelper$", "-test.v")
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, dynamotest.EnvEndpoint+"=") && !strings.HasPrefix(kv, dynamotest.EnvRequire+"=") {
					env = append(env, kv)
				}
			}
			cmd.Env = append(env, "SDESK_DYNAMOTEST_CHILD=1", dynamotest.EnvRequire+"="+tt.require)
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tt.wantFail {
				t.Errorf("child failed: got %v (%v), want %v; output:\n%s", failed, err, tt.wantFail, out)
			}
			for _, want := range []string{tt.want, "DYNAMODB_ENDPOINT not set"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("child output: got\n%s\nwant it to contain %q", out, want)
				}
			}
			if strings.Contains(string(out), "not stopped") {
				t.Errorf("child output: got %q, want the test stopped by Endpoint", out)
			}
		})
	}
}
