package scripts_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sdesk/sdesk/internal/repo"
	"github.com/sdesk/sdesk/pkg/config"
)

func root(t *testing.T) string {
	t.Helper()
	dir, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// templateDoc is template.yaml's top-level mapping.
func templateDoc(t *testing.T) *yaml.Node {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// get follows mapping keys from n; nil when one is missing.
func get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// show is a node as a message shows it: its tag and value, or its tag and
// its children's.
func show(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	if n.Kind == yaml.ScalarNode {
		return strings.TrimSpace(n.Tag + " " + n.Value)
	}
	parts := make([]string, len(n.Content))
	for i, c := range n.Content {
		parts[i] = show(c)
	}
	return n.Tag + " [" + strings.Join(parts, ", ") + "]"
}

// scalars is a scalar or a sequence of scalars.
func scalars(n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, c.Value)
	}
	return out
}

// iamActionOf maps a DynamoDB API call to the IAM action that authorizes
// it (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html);
// TransactWriteItems is authorized item by item (below).
var iamActionOf = map[string]string{
	"GetItem": "dynamodb:GetItem", "PutItem": "dynamodb:PutItem", "UpdateItem": "dynamodb:UpdateItem",
	"DeleteItem": "dynamodb:DeleteItem", "Scan": "dynamodb:Scan", "BatchGetItem": "dynamodb:BatchGetItem",
	"BatchWriteItem": "dynamodb:BatchWriteItem", "TransactGetItems": "dynamodb:GetItem",
	"DescribeTable": "dynamodb:DescribeTable",
}

// transactItemAction maps a TransactWriteItem field to its IAM action
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
var transactItemAction = map[string]string{
	"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
	"ConditionCheck": "dynamodb:ConditionCheckItem",
}

func isSel(e ast.Expr, pkg, name string) bool {
	s, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := s.X.(*ast.Ident)
	return ok && id.Name == pkg && s.Sel.Name == name
}

// codeGrants reads the DynamoDB calls of pkg/dynamo (its non-test Go
// files but client.go and store_check.go) and returns the grants they need, as "action table" or "action
// index": every s.client.X call and dynamodb.NewXPaginator, the items of
// its transactions, and for each QueryInput whether it names an index.
func codeGrants(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join(root(t), "pkg", "dynamo")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	fset := token.NewFileSet()
	for _, path := range files {
		switch base := filepath.Base(path); {
		case strings.HasSuffix(base, "_test.go"):
			continue
		case base == "client.go":
			continue // client.go only builds the client and explains errors
		case base == "store_check.go":
			continue // Check (DescribeTable) is `sdesk doctor`'s, run with the operator's credentials, never by a function
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		items := func(lit *ast.CompositeLit) {
			for _, el := range lit.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if k, ok := kv.Key.(*ast.Ident); ok && transactItemAction[k.Name] != "" {
					set[transactItemAction[k.Name]+" table"] = true
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if inner, ok := sel.X.(*ast.SelectorExpr); ok && inner.Sel.Name == "client" {
					switch m := sel.Sel.Name; {
					case m == "Query" || m == "TransactWriteItems":
						// The QueryInput and the transaction items decide.
					case iamActionOf[m] != "":
						set[iamActionOf[m]+" table"] = true
					default:
						t.Errorf("%s: s.client.%s: a DynamoDB call this test does not map to an IAM action; add it", fset.Position(n.Pos()), m)
					}
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "dynamodb" && strings.HasPrefix(sel.Sel.Name, "New") &&
					strings.HasSuffix(sel.Sel.Name, "Paginator") && sel.Sel.Name != "NewQueryPaginator" {
					t.Errorf("%s: %s: a paginator this test does not map to an IAM action; add it", fset.Position(n.Pos()), sel.Sel.Name)
				}
			case *ast.CompositeLit:
				switch {
				case isSel(n.Type, "dynamodb", "QueryInput"):
					where := " table"
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "IndexName" {
								where = " index"
							}
						}
					}
					set["dynamodb:Query"+where] = true
				case isSel(n.Type, "types", "TransactWriteItem"):
					items(n)
				default:
					if at, ok := n.Type.(*ast.ArrayType); ok && isSel(at.Elt, "types", "TransactWriteItem") {
						for _, el := range n.Elts {
							if lit, ok := el.(*ast.CompositeLit); ok && lit.Type == nil {
								items(lit)
							}
						}
					}
				}
			}
			return true
		})
	}
	var out []string
	for g := range set {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// existingTableArn is the ARN of the table ExistingTableName names.
const existingTableArn = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ExistingTableName}"

// resourceWhere names a statement's Resource: "table" for the stack's
// table (!GetAtt Table.Arn, or the ARN of ExistingTableName), "index" for
// its index GSI1, the two under !If [CreateTable, created, existing] when
// both branches agree; anything else as its tag and value.
func resourceWhere(res *yaml.Node) string {
	switch {
	case res == nil:
		return "(none)"
	case res.Tag == "!GetAtt" && res.Value == "Table.Arn", res.Tag == "!Sub" && res.Value == existingTableArn:
		return "table"
	case res.Tag == "!Sub" && (res.Value == "${Table.Arn}/index/GSI1" || res.Value == existingTableArn+"/index/GSI1"):
		return "index"
	case res.Tag == "!If" && len(res.Content) == 3 && res.Content[0].Value == "CreateTable":
		created, existing := resourceWhere(res.Content[1]), resourceWhere(res.Content[2])
		if created == existing && (res.Content[1].Tag == "!GetAtt" || strings.HasPrefix(res.Content[1].Value, "${Table.Arn}")) &&
			strings.HasPrefix(res.Content[2].Value, existingTableArn) {
			return created
		}
		return "!If [CreateTable, " + created + ", " + existing + "]"
	}
	return res.Tag + " " + res.Value
}

// templateGrants returns a function's DynamoDB grants in template.yaml as
// "action table" or "action index" (resourceWhere), and its other actions
// as "action resource".
func templateGrants(t *testing.T, fn string) (dynamo []string, other []string) {
	t.Helper()
	policies := get(templateDoc(t), "Resources", fn, "Properties", "Policies")
	if policies == nil {
		t.Fatalf("template.yaml: %s has no Policies", fn)
	}
	for _, p := range policies.Content {
		st := get(p, "Statement")
		if st == nil {
			t.Errorf("template.yaml: %s: policy %v is not a Statement (SAM policy templates such as DynamoDBCrudPolicy grant more than the code uses)", fn, scalars(p.Content[0]))
			continue
		}
		for _, s := range st.Content {
			where := resourceWhere(get(s, "Resource"))
			for _, a := range scalars(get(s, "Action")) {
				if strings.HasPrefix(a, "dynamodb:") {
					dynamo = append(dynamo, a+" "+where)
				} else {
					other = append(other, a+" "+where)
				}
			}
		}
	}
	sort.Strings(dynamo)
	sort.Strings(other)
	return dynamo, other
}

// Both functions are granted exactly the DynamoDB actions the code calls
// (pkg/dynamo), on the table or on its index as the call needs, and
// nothing more of anything else.
func TestTemplateGrantsWhatTheCodeCalls(t *testing.T) {
	want := codeGrants(t)
	if !slices.Contains(want, "dynamodb:GetItem table") || !slices.Contains(want, "dynamodb:Query index") {
		t.Fatalf("calls found in pkg/dynamo: %v; want at least GetItem and the Query on GSI1 (is the scan broken?)", want)
	}
	queue := "lambda:InvokeFunction !Sub arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-interactions"
	tests := []struct {
		fn    string
		other []string
	}{
		{"Interactions", []string{queue, "sqs:SendMessage !GetAtt DeadLetterQueue.Arn"}},
		{"Webhook", []string{queue}},
	}
	for _, tt := range tests {
		got, other := templateGrants(t, tt.fn)
		if !slices.Equal(got, want) {
			t.Errorf("template.yaml %s DynamoDB grants: got %v, want %v (what pkg/dynamo calls)", tt.fn, got, want)
		}
		sort.Strings(tt.other)
		if !slices.Equal(other, tt.other) {
			t.Errorf("template.yaml %s other grants: got %v, want %v", tt.fn, other, tt.other)
		}
	}
}

// The production settings of template.yaml: the table is kept, the logs
// expire, the dead-letter queue has an alarm (e-mailed only when asked),
// and concurrency is reserved only when asked.
func TestTemplateForProduction(t *testing.T) {
	doc := templateDoc(t)
	res := get(doc, "Resources")
	for _, k := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
		if v := get(res, "Table", k); v == nil || v.Value != "Retain" {
			t.Errorf("Table %s: got %v, want Retain", k, v)
		}
	}
	for fn, group := range map[string]string{"Interactions": "InteractionsLogs", "Webhook": "WebhookLogs"} {
		if v := get(res, fn, "Properties", "LoggingConfig", "LogGroup"); v == nil || v.Tag != "!Ref" || v.Value != group {
			t.Errorf("%s LoggingConfig.LogGroup: got %v, want !Ref %s", fn, v, group)
		}
		if v := get(res, group, "Properties", "RetentionInDays"); v == nil || v.Value != "LogRetentionDays" {
			t.Errorf("%s RetentionInDays: got %v, want !Ref LogRetentionDays", group, v)
		}
		if v := get(res, fn, "Properties", "ReservedConcurrentExecutions"); v == nil || v.Tag != "!If" || len(v.Content) == 0 || v.Content[0].Value != "HasReservedConcurrency" {
			t.Errorf("%s ReservedConcurrentExecutions: got %v, want !If [HasReservedConcurrency, ...]", fn, v)
		}
	}
	alarm := get(res, "DeadLetterAlarm", "Properties")
	val := func(keys ...string) string {
		if n := get(alarm, keys...); n != nil {
			return n.Value
		}
		return ""
	}
	// One e-mail per failure, however many came before: the messages
	// sent in 5 minutes, not the queue's depth, which stays above 0 (and
	// the alarm in ALARM) for the 14 days a message is kept.
	for k, want := range map[string]string{"Namespace": "AWS/SQS", "MetricName": "NumberOfMessagesSent", "Statistic": "Sum",
		"Period": "300", "EvaluationPeriods": "1", "Threshold": "0", "ComparisonOperator": "GreaterThanThreshold",
		"TreatMissingData": "notBreaching"} {
		if got := val(k); got != want {
			t.Errorf("DeadLetterAlarm %s: got %q, want %q", k, got, want)
		}
	}
	if get(alarm, "OKActions") != nil {
		t.Errorf("DeadLetterAlarm OKActions: want none (OK means no failure for 5 minutes, not that one was fixed)")
	}
	// A stack of the earlier template has Lambda's own log groups
	// (/aws/lambda/<function name>): a log group of that name cannot be
	// created again.
	for fn, group := range map[string]string{"Interactions": "InteractionsLogs", "Webhook": "WebhookLogs"} {
		name := get(res, group, "Properties", "LogGroupName")
		fnName := get(res, fn, "Properties", "FunctionName")
		if name == nil || fnName == nil || name.Tag != "!Sub" || strings.HasPrefix(name.Value, "/aws/lambda/") ||
			strings.Contains(name.Value, fnName.Value) {
			t.Errorf("%s LogGroupName: got %s, want a !Sub name of its own, not Lambda's default for %s", group, show(name), show(fnName))
		}
	}
	if v := get(res, "Table", "Condition"); v == nil || v.Value != "CreateTable" {
		t.Errorf("Table Condition: got %s, want CreateTable (a new stack may use a kept table, ExistingTableName)", show(v))
	}
	if v := get(doc, "Parameters", "ExistingTableName", "Default"); v == nil || v.Value != "" {
		t.Errorf("ExistingTableName default: got %s, want empty (the stack creates its table)", show(v))
	}
	for _, out := range []*yaml.Node{get(doc, "Globals", "Function", "Environment", "Variables", "SDESK_TABLE"), get(doc, "Outputs", "TableName", "Value")} {
		if out == nil || out.Tag != "!If" || len(out.Content) != 3 || out.Content[0].Value != "CreateTable" ||
			out.Content[1].Value != "Table" || out.Content[2].Value != "ExistingTableName" {
			t.Errorf("SDESK_TABLE and the output TableName: got %s, want !If [CreateTable, !Ref Table, !Ref ExistingTableName]", show(out))
		}
	}
	if d := get(doc, "Parameters", "ReservedConcurrency", "Description"); d == nil || !strings.Contains(d.Value, "limit is 10") {
		t.Errorf("ReservedConcurrency Description: got %s, want it to say a new account (limit 10) can reserve nothing", show(d))
	}
	for _, r := range []string{"AlarmTopic", "AlarmSubscription"} {
		if v := get(res, r, "Condition"); v == nil || v.Value != "HasAlarmEmail" {
			t.Errorf("%s: got Condition %v, want HasAlarmEmail (only with an e-mail address)", r, v)
		}
	}
	if v := get(doc, "Parameters", "ReservedConcurrency", "Default"); v == nil || v.Value != "" {
		t.Errorf("ReservedConcurrency default: got %v, want empty (no reservation)", v)
	}
}

// events/env.json, for `sam local invoke --env-vars`: SAM only overrides
// variables the template declares, so each must be declared (Globals or
// the function), and with what the template sets they make a valid
// configuration.
func TestEnvJSONMatchesTemplate(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root(t), "events", "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	var envJSON map[string]map[string]string
	if err := json.Unmarshal(raw, &envJSON); err != nil {
		t.Fatal(err)
	}
	doc := templateDoc(t)
	global := get(doc, "Globals", "Function", "Environment", "Variables")
	for _, fn := range []string{"Interactions", "Webhook"} {
		vars := envJSON[fn]
		if vars == nil {
			t.Errorf("events/env.json: no %s", fn)
			continue
		}
		own := get(doc, "Resources", fn, "Properties", "Environment", "Variables")
		declared := map[string]string{}
		for _, m := range []*yaml.Node{global, own} {
			for i := 0; m != nil && i+1 < len(m.Content); i += 2 {
				v := m.Content[i+1]
				declared[m.Content[i].Value] = v.Value
				if v.Tag != "!!str" && v.Tag != "" {
					declared[m.Content[i].Value] = "" // an intrinsic: env.json must set it
				}
			}
		}
		for k := range vars {
			if _, ok := declared[k]; !ok {
				t.Errorf("events/env.json %s sets %s, which template.yaml does not declare: sam local invoke ignores it", fn, k)
			}
		}
		getenv := func(k string) string {
			if v, ok := vars[k]; ok {
				return v
			}
			return declared[k]
		}
		if _, err := config.Load(getenv); err != nil {
			t.Errorf("events/env.json %s with the template's values: %v", fn, err)
		}
		for _, k := range []string{"SDESK_TABLE", "DYNAMODB_ENDPOINT", "SDESK_JOB_FUNCTION", "AWS_ENDPOINT_URL_LAMBDA"} {
			if vars[k] == "" {
				t.Errorf("events/env.json %s: %s is empty, want it set for sam local", fn, k)
			}
		}
		if want := "http://host.docker.internal:8000"; vars["DYNAMODB_ENDPOINT"] != want {
			t.Errorf("events/env.json %s DYNAMODB_ENDPOINT: got %q, want %q (make local: DYNAMODB_PORT 8000)", fn, vars["DYNAMODB_ENDPOINT"], want)
		}
	}
}

// Every variable of config.Vars reaches the functions (a parameter, or a
// value the template sets), but those of `sdesk serve` alone.
func TestTemplateDeclaresEveryVar(t *testing.T) {
	serveOnly := map[string]bool{"SDESK_BOLT_PATH": true, "SDESK_ADDR": true}
	doc := templateDoc(t)
	global := get(doc, "Globals", "Function", "Environment", "Variables")
	for _, fn := range []string{"Interactions", "Webhook"} {
		own := get(doc, "Resources", fn, "Properties", "Environment", "Variables")
		for _, v := range config.Vars {
			if serveOnly[v.Name] {
				continue
			}
			if get(global, v.Name) == nil && get(own, v.Name) == nil {
				t.Errorf("template.yaml: %s gets no %s (add a parameter and set it in Globals)", fn, v.Name)
			}
		}
	}
}
