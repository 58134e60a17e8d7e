package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableError is Check's error for a table whose layout is not the one the
// Store needs (the Table resource of template.yaml).
type TableError struct {
	Table    string
	Problems []string // one sentence each, e.g. "the sort key is id (N), not SK (S)"
}

func (e *TableError) Error() string {
	return "dynamo: table " + e.Table + ": " + strings.Join(e.Problems, "; ")
}

// Check describes the Store's table (DescribeTable,
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DescribeTable.html)
// and tells whether the Store can use it: status ACTIVE, partition key PK
// and sort key SK, both strings, and a global secondary index GSI1 on
// GSI1PK (partition) and GSI1SK (sort), both strings, projecting all
// attributes, ACTIVE. A missing table gives an error wrapping ErrNoTable (client.go);
// a table laid out otherwise a *TableError naming every difference; a
// failed call (credentials, network) the SDK's error, wrapped. The TTL
// setting is not checked: expired items are ignored on every read.
func (s *Store) Check(ctx context.Context) error {
	out, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("dynamo: describe table %s: %w", s.table, ErrNoTable)
	}
	if err != nil {
		return fmt.Errorf("dynamo: describe table %s: %w", s.table, err)
	}
	if out.Table == nil {
		return fmt.Errorf("dynamo: describe table %s: the answer has no table", s.table)
	}
	if problems := tableProblems(out.Table); len(problems) > 0 {
		return &TableError{Table: s.table, Problems: problems}
	}
	return nil
}

// tableProblems lists how t differs from the layout the Store needs.
func tableProblems(t *types.TableDescription) []string {
	var problems []string
	attrTypes := map[string]types.ScalarAttributeType{}
	for _, a := range t.AttributeDefinitions {
		attrTypes[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	if t.TableStatus != types.TableStatusActive {
		problems = append(problems, fmt.Sprintf("the table is %s, not ACTIVE", t.TableStatus))
	}
	problems = append(problems, keyProblems("the table", t.KeySchema, attrTypes, attrPK, attrSK)...)
	var gsi *types.GlobalSecondaryIndexDescription
	for i := range t.GlobalSecondaryIndexes {
		if aws.ToString(t.GlobalSecondaryIndexes[i].IndexName) == indexGSI1 {
			gsi = &t.GlobalSecondaryIndexes[i]
		}
	}
	if gsi == nil {
		return append(problems, "it has no global secondary index "+indexGSI1)
	}
	where := "index " + indexGSI1
	problems = append(problems, keyProblems(where, gsi.KeySchema, attrTypes, attrGSI1PK, attrGSI1SK)...)
	if gsi.Projection == nil || gsi.Projection.ProjectionType != types.ProjectionTypeAll {
		got := types.ProjectionType("none")
		if gsi.Projection != nil {
			got = gsi.Projection.ProjectionType
		}
		problems = append(problems, fmt.Sprintf("%s projects %s, not ALL", where, got))
	}
	if gsi.IndexStatus != "" && gsi.IndexStatus != types.IndexStatusActive {
		problems = append(problems, fmt.Sprintf("%s is %s, not ACTIVE", where, gsi.IndexStatus))
	}
	return problems
}

// keyProblems checks a key schema: partition key hash and sort key rng,
// both strings (S).
func keyProblems(where string, schema []types.KeySchemaElement, attrTypes map[string]types.ScalarAttributeType, hash, rng string) []string {
	var problems []string
	for _, want := range []struct {
		name, role string
		typ        types.KeyType
	}{{hash, "partition key", types.KeyTypeHash}, {rng, "sort key", types.KeyTypeRange}} {
		got := ""
		for _, k := range schema {
			if k.KeyType == want.typ {
				got = aws.ToString(k.AttributeName)
			}
		}
		switch {
		case got == "":
			problems = append(problems, fmt.Sprintf("%s has no %s (want %s, a string)", where, want.role, want.name))
		case got != want.name || attrTypes[got] != types.ScalarAttributeTypeS:
			problems = append(problems, fmt.Sprintf("the %s of %s is %s (%s), not %s (S)", want.role, where, got, orNone(string(attrTypes[got])), want.name))
		}
	}
	return problems
}

func orNone(s string) string {
	if s == "" {
		return "no type"
	}
	return s
}
