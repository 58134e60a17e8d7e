// Package dynamotest creates throw-away DynamoDB tables for tests, shaped
// like the Table resource of template.yaml, on the DynamoDB endpoint given
// by DYNAMODB_ENDPOINT (DynamoDB Local under `make test`).
package dynamotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"gopkg.in/yaml.v3"

	"github.com/sdesk/sdesk/internal/repo"
	"github.com/sdesk/sdesk/pkg/awsenv"
	"github.com/sdesk/sdesk/pkg/dynamo"
)

// Environment variables.
const (
	// EnvEndpoint is the DynamoDB endpoint the tests use.
	EnvEndpoint = "DYNAMODB_ENDPOINT"
	// EnvRequire, set to 1, turns a missing endpoint into a test failure
	// instead of a skip (make test sets it).
	EnvRequire = "SDESK_REQUIRE_DYNAMODB"
)

// logicalID is the template resource that describes the table.
const logicalID = "Table"

// Endpoint returns DYNAMODB_ENDPOINT. If it is empty the test is skipped, or
// fails when SDESK_REQUIRE_DYNAMODB=1.
func Endpoint(t testing.TB) string {
	t.Helper()
	endpoint := os.Getenv(EnvEndpoint)
	if endpoint == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(EnvEndpoint + " not set although " + EnvRequire + "=1: start DynamoDB Local (scripts/dynamodb-local.sh start) and export its endpoint")
		}
		t.Skip(EnvEndpoint + " not set: run make test")
	}
	return endpoint
}

// NewTable creates a uniquely named table from the Table resource of the
// repository's template.yaml, waits until it is active and deletes it when
// the test ends. It returns a client for DYNAMODB_ENDPOINT and the table
// name.
func NewTable(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	endpoint := Endpoint(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	client := dynamo.NewClient(awsenv.Config(), endpoint)
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	name := "sdesk-test-" + randomSuffix()
	in, err := TableInputFromTemplate(tmpl, name)
	if err != nil {
		t.Fatal(err)
	}
	ttl, err := TimeToLiveFromTemplate(tmpl, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateTable(ctx, in); err != nil {
		t.Fatalf("dynamotest: create table %s on %s: %v", name, endpoint, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("dynamotest: delete table %s: %v", name, err)
		}
	})
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("dynamotest: wait for table %s: %v", name, err)
	}
	if ttl != nil {
		if _, err := client.UpdateTimeToLive(ctx, ttl); err != nil {
			t.Fatalf("dynamotest: enable TTL on %s: %v", name, err)
		}
	}
	return client, name
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// TableInputFromTemplate maps the Properties of the "Table" resource of a
// CloudFormation/SAM template (BillingMode, AttributeDefinitions, KeySchema,
// GlobalSecondaryIndexes, ProvisionedThroughput) to a CreateTableInput for
// a table named table. Properties that do not shape the table (TableName,
// TimeToLiveSpecification, Tags, …) are ignored; TimeToLiveFromTemplate
// reads the TTL. Intrinsic functions (!Ref, !Sub, …) are rejected where a
// value is needed and ignored elsewhere.
func TableInputFromTemplate(template []byte, table string) (*dynamodb.CreateTableInput, error) {
	props, err := tableProperties(template)
	if err != nil {
		return nil, err
	}
	in := &dynamodb.CreateTableInput{TableName: aws.String(table)}
	if n := field(props, "BillingMode"); n != nil {
		s, err := scalar(n, "BillingMode")
		if err != nil {
			return nil, err
		}
		in.BillingMode = types.BillingMode(s)
	}
	attrs, err := list(field(props, "AttributeDefinitions"), "AttributeDefinitions")
	if err != nil {
		return nil, err
	}
	for i, a := range attrs {
		where := fmt.Sprintf("AttributeDefinitions[%d]", i)
		name, err := requiredScalar(a, "AttributeName", where)
		if err != nil {
			return nil, err
		}
		typ, err := requiredScalar(a, "AttributeType", where)
		if err != nil {
			return nil, err
		}
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(name),
			AttributeType: types.ScalarAttributeType(typ),
		})
	}
	if in.KeySchema, err = keySchema(field(props, "KeySchema"), "KeySchema"); err != nil {
		return nil, err
	}
	if len(in.KeySchema) == 0 {
		return nil, errors.New("dynamotest: template: Table has no KeySchema")
	}
	if in.ProvisionedThroughput, err = throughput(field(props, "ProvisionedThroughput"), "ProvisionedThroughput"); err != nil {
		return nil, err
	}
	gsis, err := list(field(props, "GlobalSecondaryIndexes"), "GlobalSecondaryIndexes")
	if err != nil {
		return nil, err
	}
	for i, g := range gsis {
		where := fmt.Sprintf("GlobalSecondaryIndexes[%d]", i)
		name, err := requiredScalar(g, "IndexName", where)
		if err != nil {
			return nil, err
		}
		gsi := types.GlobalSecondaryIndex{IndexName: aws.String(name)}
		if gsi.KeySchema, err = keySchema(field(g, "KeySchema"), where+".KeySchema"); err != nil {
			return nil, err
		}
		proj := field(g, "Projection")
		if proj == nil {
			return nil, fmt.Errorf("dynamotest: template: %s has no Projection", where)
		}
		gsi.Projection = &types.Projection{}
		if n := field(proj, "ProjectionType"); n != nil {
			s, err := scalar(n, where+".Projection.ProjectionType")
			if err != nil {
				return nil, err
			}
			gsi.Projection.ProjectionType = types.ProjectionType(s)
		}
		nonKey, err := list(field(proj, "NonKeyAttributes"), where+".Projection.NonKeyAttributes")
		if err != nil {
			return nil, err
		}
		for j, n := range nonKey {
			s, err := scalar(n, fmt.Sprintf("%s.Projection.NonKeyAttributes[%d]", where, j))
			if err != nil {
				return nil, err
			}
			gsi.Projection.NonKeyAttributes = append(gsi.Projection.NonKeyAttributes, s)
		}
		if gsi.ProvisionedThroughput, err = throughput(field(g, "ProvisionedThroughput"), where+".ProvisionedThroughput"); err != nil {
			return nil, err
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi)
	}
	return in, nil
}

// TimeToLiveFromTemplate maps the TimeToLiveSpecification of the "Table"
// resource to an UpdateTimeToLiveInput for table, or returns nil when the
// template enables no TTL.
func TimeToLiveFromTemplate(template []byte, table string) (*dynamodb.UpdateTimeToLiveInput, error) {
	props, err := tableProperties(template)
	if err != nil {
		return nil, err
	}
	spec := field(props, "TimeToLiveSpecification")
	if spec == nil {
		return nil, nil
	}
	const where = "TimeToLiveSpecification"
	enabled, err := requiredScalar(spec, "Enabled", where)
	if err != nil {
		return nil, err
	}
	on, err := strconv.ParseBool(enabled)
	if err != nil {
		return nil, fmt.Errorf("dynamotest: template: %s.Enabled: %w", where, err)
	}
	if !on {
		return nil, nil
	}
	attr, err := requiredScalar(spec, "AttributeName", where)
	if err != nil {
		return nil, err
	}
	return &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attr),
			Enabled:       aws.Bool(true),
		},
	}, nil
}

// tableProperties returns the Properties mapping of Resources.Table.
func tableProperties(template []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(template, &doc); err != nil {
		return nil, fmt.Errorf("dynamotest: template: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, errors.New("dynamotest: template: empty document")
	}
	res := field(doc.Content[0], "Resources")
	if res == nil {
		return nil, errors.New("dynamotest: template: no Resources")
	}
	tbl := field(res, logicalID)
	if tbl == nil {
		return nil, fmt.Errorf("dynamotest: template: no resource %q", logicalID)
	}
	if typ, _ := scalar(field(tbl, "Type"), "Type"); typ != "AWS::DynamoDB::Table" {
		return nil, fmt.Errorf("dynamotest: template: resource %q has type %q, want AWS::DynamoDB::Table", logicalID, typ)
	}
	props := field(tbl, "Properties")
	if props == nil || props.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("dynamotest: template: resource %q has no Properties mapping", logicalID)
	}
	return props, nil
}

// field returns the value of key in mapping node n, or nil.
func field(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

// scalar returns the value of a plain scalar; tagged values such as !Ref
// are an error.
func scalar(n *yaml.Node, where string) (string, error) {
	if n == nil {
		return "", fmt.Errorf("dynamotest: template: %s missing", where)
	}
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("dynamotest: template: %s: want a plain value", where)
	}
	switch n.Tag {
	case "!!str", "!!bool", "!!int", "":
		return n.Value, nil
	}
	return "", fmt.Errorf("dynamotest: template: %s: unsupported %s", where, n.Tag)
}

func requiredScalar(n *yaml.Node, key, where string) (string, error) {
	return scalar(field(n, key), where+"."+key)
}

// list returns the items of a sequence node; a missing node is empty.
func list(n *yaml.Node, where string) ([]*yaml.Node, error) {
	if n == nil {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("dynamotest: template: %s: want a list", where)
	}
	return n.Content, nil
}

func keySchema(n *yaml.Node, where string) ([]types.KeySchemaElement, error) {
	items, err := list(n, where)
	if err != nil {
		return nil, err
	}
	var out []types.KeySchemaElement
	for i, k := range items {
		w := fmt.Sprintf("%s[%d]", where, i)
		name, err := requiredScalar(k, "AttributeName", w)
		if err != nil {
			return nil, err
		}
		typ, err := requiredScalar(k, "KeyType", w)
		if err != nil {
			return nil, err
		}
		out = append(out, types.KeySchemaElement{AttributeName: aws.String(name), KeyType: types.KeyType(typ)})
	}
	return out, nil
}

func throughput(n *yaml.Node, where string) (*types.ProvisionedThroughput, error) {
	if n == nil {
		return nil, nil
	}
	read, err := requiredScalar(n, "ReadCapacityUnits", where)
	if err != nil {
		return nil, err
	}
	write, err := requiredScalar(n, "WriteCapacityUnits", where)
	if err != nil {
		return nil, err
	}
	r, err := strconv.ParseInt(read, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("dynamotest: template: %s.ReadCapacityUnits: %w", where, err)
	}
	w, err := strconv.ParseInt(write, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("dynamotest: template: %s.WriteCapacityUnits: %w", where, err)
	}
	return &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(r), WriteCapacityUnits: aws.Int64(w)}, nil
}
