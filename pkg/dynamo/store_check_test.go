package dynamo_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sdesk/sdesk/pkg/dynamo"
	"github.com/sdesk/sdesk/pkg/dynamo/dynamotest"
)

// createTable creates a table on DynamoDB Local and deletes it when the
// test ends.
func createTable(t *testing.T, client *dynamodb.Client, in *dynamodb.CreateTableInput) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	in.BillingMode = types.BillingModePayPerRequest
	if _, err := client.CreateTable(ctx, in); err != nil {
		t.Fatalf("create table %s: %v", aws.ToString(in.TableName), err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: in.TableName})
	})
	if err := dynamodb.NewTableExistsWaiter(client).Wait(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

func attrDef(name string, typ types.ScalarAttributeType) types.AttributeDefinition {
	return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: typ}
}

func keys(hash, rng string) []types.KeySchemaElement {
	out := []types.KeySchemaElement{{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash}}
	if rng != "" {
		out = append(out, types.KeySchemaElement{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange})
	}
	return out
}

func TestCheck(t *testing.T) {
	client, table := dynamotest.NewTable(t)
	if err := dynamo.New(client, table).Check(t.Context()); err != nil {
		t.Errorf("the template's table: got %v, want nil", err)
	}
	if err := dynamo.New(client, table+"-missing").Check(t.Context()); !errors.Is(err, dynamo.ErrNoTable) {
		t.Errorf("a missing table: got %v, want ErrNoTable", err)
	}

	tests := []struct {
		name string
		in   dynamodb.CreateTableInput
		want []string
	}{
		{"other keys, no index", dynamodb.CreateTableInput{
			AttributeDefinitions: []types.AttributeDefinition{attrDef("id", types.ScalarAttributeTypeN)},
			KeySchema:            keys("id", ""),
		}, []string{
			"the partition key of the table is id (N), not PK (S)",
			"the table has no sort key (want SK, a string)",
			"it has no global secondary index GSI1",
		}},
		{"keys of the wrong type, index projecting keys only", dynamodb.CreateTableInput{
			AttributeDefinitions: []types.AttributeDefinition{
				attrDef("PK", types.ScalarAttributeTypeS), attrDef("SK", types.ScalarAttributeTypeB),
				attrDef("GSI1PK", types.ScalarAttributeTypeS), attrDef("GSI1SK", types.ScalarAttributeTypeS),
			},
			KeySchema: keys("PK", "SK"),
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
				IndexName: aws.String("GSI1"), KeySchema: keys("GSI1PK", "GSI1SK"),
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
			}},
		}, []string{
			"the sort key of the table is SK (B), not SK (S)",
			"index GSI1 projects KEYS_ONLY, not ALL",
		}},
		{"index keys swapped", dynamodb.CreateTableInput{
			AttributeDefinitions: []types.AttributeDefinition{
				attrDef("PK", types.ScalarAttributeTypeS), attrDef("SK", types.ScalarAttributeTypeS),
				attrDef("GSI1PK", types.ScalarAttributeTypeS), attrDef("GSI1SK", types.ScalarAttributeTypeS),
			},
			KeySchema: keys("PK", "SK"),
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
				IndexName: aws.String("GSI1"), KeySchema: keys("GSI1SK", "GSI1PK"),
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
			}},
		}, []string{
			"the partition key of index GSI1 is GSI1SK (S), not GSI1PK (S)",
			"the sort key of index GSI1 is GSI1PK (S), not GSI1SK (S)",
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.TableName = aws.String(table + "-odd" + string(rune('a'+i)))
			createTable(t, client, &in)
			err := dynamo.New(client, *in.TableName).Check(t.Context())
			var te *dynamo.TableError
			if !errors.As(err, &te) || !reflect.DeepEqual(te.Problems, tt.want) || te.Table != *in.TableName {
				t.Errorf("got %v, want a TableError with %q", err, tt.want)
			}
		})
	}
}
