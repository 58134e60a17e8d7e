// Command local-table creates sdesk's DynamoDB table in DynamoDB Local (or
// any endpoint) from the Table resource of template.yaml: its keys, its
// index GSI1 and its TTL, so the local table cannot drift from the
// deployed one. `make local` runs it:
//
//	go run ./scripts/local-table -endpoint http://127.0.0.1:8000 -table sdesk-local
//
// A table of that name that already exists is kept if it has the
// template's keys and indexes, and refused otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sdesk/sdesk/internal/repo"
	"github.com/sdesk/sdesk/pkg/awsenv"
	"github.com/sdesk/sdesk/pkg/dynamo"
	"github.com/sdesk/sdesk/pkg/dynamo/dynamotest"
)

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:8000", "DynamoDB endpoint (DynamoDB Local)")
	table := flag.String("table", "sdesk-local", "table name (SDESK_TABLE)")
	template := flag.String("template", "", "template file (default: template.yaml of the repository)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, *endpoint, *table, *template); err != nil {
		fmt.Fprintln(os.Stderr, "local-table:", err)
		os.Exit(1)
	}
}

// run creates table at endpoint from the template at path ("" for the
// repository's template.yaml), or checks the one that is there.
func run(ctx context.Context, out io.Writer, endpoint, table, path string) error {
	if path == "" {
		root, err := repo.Root()
		if err != nil {
			return err
		}
		path = filepath.Join(root, "template.yaml")
	}
	tmpl, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	in, err := dynamotest.TableInputFromTemplate(tmpl, table)
	if err != nil {
		return err
	}
	ttl, err := dynamotest.TimeToLiveFromTemplate(tmpl, table)
	if err != nil {
		return err
	}
	client := dynamo.NewClient(awsenv.Config(), endpoint)
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	switch {
	case err == nil:
		if err := sameShape(in, desc.Table); err != nil {
			return fmt.Errorf("table %s at %s exists with another shape than template.yaml's (%w): delete it "+
				"(DynamoDB Local keeps its tables in memory: `make local-stop` drops them) and run this again", table, endpoint, err)
		}
		fmt.Fprintf(out, "table %s at %s: exists, shaped as template.yaml says\n", table, endpoint)
		return nil
	case !errors.Is(err, dynamo.ErrNoTable):
		return fmt.Errorf("describe table %s at %s: %w", table, endpoint, err)
	}
	if _, err := client.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("create table %s at %s: %w", table, endpoint, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 30*time.Second); err != nil {
		return fmt.Errorf("wait for table %s: %w", table, err)
	}
	if ttl != nil {
		if _, err := client.UpdateTimeToLive(ctx, ttl); err != nil {
			return fmt.Errorf("enable TTL on %s: %w", table, err)
		}
	}
	fmt.Fprintf(out, "table %s at %s: created from template.yaml\n", table, endpoint)
	return nil
}

// sameShape compares the keys and global secondary indexes of a table with
// those the template asks for.
func sameShape(want *dynamodb.CreateTableInput, got *types.TableDescription) error {
	keys := func(ks []types.KeySchemaElement) []string {
		var s []string
		for _, k := range ks {
			s = append(s, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
		}
		return s
	}
	if !slices.Equal(keys(want.KeySchema), keys(got.KeySchema)) {
		return fmt.Errorf("keys %v, want %v", keys(got.KeySchema), keys(want.KeySchema))
	}
	index := func(name *string, ks []types.KeySchemaElement) string {
		return fmt.Sprint(aws.ToString(name), keys(ks))
	}
	var wantIdx, gotIdx []string
	for _, g := range want.GlobalSecondaryIndexes {
		wantIdx = append(wantIdx, index(g.IndexName, g.KeySchema))
	}
	for _, g := range got.GlobalSecondaryIndexes {
		gotIdx = append(gotIdx, index(g.IndexName, g.KeySchema))
	}
	slices.Sort(wantIdx)
	slices.Sort(gotIdx)
	if !slices.Equal(wantIdx, gotIdx) {
		return fmt.Errorf("indexes %v, want %v", gotIdx, wantIdx)
	}
	return nil
}
