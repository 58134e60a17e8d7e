package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sdesk/sdesk/internal/repo"
	"github.com/sdesk/sdesk/pkg/awsenv"
	"github.com/sdesk/sdesk/pkg/dynamo"
	"github.com/sdesk/sdesk/pkg/dynamo/dynamotest"
)

// run creates the table from template.yaml (keys PK/SK, index GSI1 on
// GSI1PK/GSI1SK, TTL on expires_at), keeps it when run again, and refuses
// a table of that name with another shape.
func TestRun(t *testing.T) {
	endpoint := dynamotest.Endpoint(t)
	ctx := context.Background()
	table := "sdesk-local-test-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + filepath.Base(t.TempDir())
	client := dynamo.NewClient(awsenv.Config(), endpoint)
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	for i, want := range []string{"created from template.yaml", "exists, shaped as template.yaml says"} {
		var out bytes.Buffer
		if err := run(ctx, &out, endpoint, table, ""); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("run %d: got %q, want %q", i+1, out.String(), want)
		}
	}
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	got := desc.Table
	if len(got.KeySchema) != 2 || aws.ToString(got.KeySchema[0].AttributeName) != "PK" || got.KeySchema[0].KeyType != types.KeyTypeHash ||
		aws.ToString(got.KeySchema[1].AttributeName) != "SK" || got.KeySchema[1].KeyType != types.KeyTypeRange {
		t.Errorf("keys: got %+v, want PK HASH, SK RANGE", got.KeySchema)
	}
	if len(got.GlobalSecondaryIndexes) != 1 || aws.ToString(got.GlobalSecondaryIndexes[0].IndexName) != "GSI1" ||
		aws.ToString(got.GlobalSecondaryIndexes[0].KeySchema[0].AttributeName) != "GSI1PK" {
		t.Errorf("indexes: got %+v, want GSI1 on GSI1PK/GSI1SK", got.GlobalSecondaryIndexes)
	}
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "expires_at" {
		t.Errorf("TTL: got %+v, %v, want expires_at", ttl, err)
	}

	// The same name with another shape: a template without the index.
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(raw), "      GlobalSecondaryIndexes:")
	j := strings.Index(string(raw), "      TimeToLiveSpecification:")
	if i < 0 || j < i {
		t.Fatal("template.yaml: no GlobalSecondaryIndexes before TimeToLiveSpecification in the Table")
	}
	other := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(other, append(raw[:i:i], raw[j:]...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, &bytes.Buffer{}, endpoint, table, other); err == nil || !strings.Contains(err.Error(), "another shape") {
		t.Errorf("run with a template of another shape: got %v, want a refusal", err)
	}
}
