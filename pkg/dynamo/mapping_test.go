package dynamo_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sdesk/sdesk/pkg/awsenv"
	"github.com/sdesk/sdesk/pkg/dynamo"
	"github.com/sdesk/sdesk/pkg/dynamo/dynamotest"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// attr returns a string or number attribute of an item as a string, ""
// when absent.
func attr(item map[string]types.AttributeValue, name string) string {
	switch v := item[name].(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	}
	return ""
}

// checkAttrs checks the GSI1 and state attributes of a mapping item.
func checkAttrs(t *testing.T, client *dynamodb.Client, table, pk string, want map[string]string) {
	t.Helper()
	item := getItem(t, client, table, pk, "MAPPING")
	for _, name := range []string{"GSI1PK", "GSI1SK", "state", "state_at", "created_at"} {
		if got := attr(item, name); got != want[name] {
			t.Errorf("%s %s: got %q, want %q", pk, name, got, want[name])
		}
	}
}

// TestMappingItemLayout checks the mapping attributes the package
// documentation names: GSI1 keys, state and state_at on both items,
// through a first write, a state change and a rewrite.
func TestMappingItemLayout(t *testing.T) {
	client, table := dynamotest.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()
	created := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	m := sdesk.Mapping{IssueIID: 42, ThreadID: "200", ReporterID: "300", Title: "t", CreatedAt: created}
	if err := s.PutMapping(ctx, m); err != nil {
		t.Fatalf("PutMapping: got error %v, want nil", err)
	}
	const sk = "2025-03-04T04:06:07.000000000Z#0000000042"
	const zero = "0001-01-01T00:00:00.000000000Z"
	checkAttrs(t, client, table, "ISSUE#42", map[string]string{
		"GSI1PK": "REPORTER#300", "GSI1SK": sk, "state": "opened", "state_at": zero, "created_at": "2025-03-04T04:06:07Z"})
	checkAttrs(t, client, table, "THREAD#200", map[string]string{
		"GSI1PK": "MAPPINGS#opened", "GSI1SK": sk, "state": "opened", "state_at": zero, "created_at": "2025-03-04T04:06:07Z"})

	at := time.Date(2025, 3, 5, 1, 2, 3, 400000000, time.UTC)
	if err := s.SetMappingState(ctx, 42, sdesk.StateClosed, at); err != nil {
		t.Fatalf("SetMappingState: got error %v, want nil", err)
	}
	const closedAt = "2025-03-05T01:02:03.400000000Z"
	closed := func(gsi1pk string) map[string]string {
		return map[string]string{"GSI1PK": gsi1pk, "GSI1SK": sk, "state": "closed", "state_at": closedAt, "created_at": "2025-03-04T04:06:07Z"}
	}
	checkAttrs(t, client, table, "ISSUE#42", closed("REPORTER#300"))
	checkAttrs(t, client, table, "THREAD#200", closed("MAPPINGS#closed"))

	again := m
	again.CreatedAt, again.State, again.StateAt, again.Title = created.Add(time.Hour), sdesk.StateOpened, time.Now(), "renamed"
	if err := s.PutMapping(ctx, again); err != nil {
		t.Fatalf("PutMapping again: got error %v, want nil", err)
	}
	checkAttrs(t, client, table, "ISSUE#42", closed("REPORTER#300"))
	checkAttrs(t, client, table, "THREAD#200", closed("MAPPINGS#closed"))
	if got := scanKeys(t, client, table); !slices.Equal(got, []string{"ISSUE#42 MAPPING", "THREAD#200 MAPPING"}) {
		t.Errorf("items: got %q, want the two mapping items", got)
	}
}

// putLegacy writes the two items of a mapping as versions before states
// wrote them: no GSI1 keys, no state.
func putLegacy(t *testing.T, client *dynamodb.Client, table string, iid, thread, reporter, created string) {
	t.Helper()
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	for _, pk := range []string{"ISSUE#" + iid, "THREAD#" + thread} {
		item := map[string]types.AttributeValue{
			"PK": s(pk), "SK": s("MAPPING"), "iid": &types.AttributeValueMemberN{Value: iid},
			"issue_url": s("https://gitlab.example.com/g/p/-/issues/" + iid), "thread_id": s(thread),
			"guild_id": s("100"), "channel_id": s("101"), "reporter_id": s(reporter), "title": s("old"), "created_at": s(created),
		}
		if _, err := client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatalf("PutItem(%s): got error %v, want nil", pk, err)
		}
	}
}

// TestLegacyMappings: mapping items written before states were kept read
// as opened and are not listed; conflicting writes are still refused;
// PutMapping writes them again as opened, keeping their creation time,
// and SetMappingState gives them its state; both list them in order.
func TestLegacyMappings(t *testing.T) {
	client, table := dynamotest.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()
	putLegacy(t, client, table, "1", "201", "301", "2025-03-04T05:06:07Z")
	putLegacy(t, client, table, "2", "202", "301", "2025-03-04T05:06:09.5Z")
	third := sdesk.Mapping{IssueIID: 3, ThreadID: "203", ReporterID: "301", Title: "new",
		CreatedAt: time.Date(2025, 3, 4, 5, 6, 8, 0, time.UTC)}
	if err := s.PutMapping(ctx, third); err != nil {
		t.Fatalf("PutMapping(3): got error %v, want nil", err)
	}
	list := func(q sdesk.MappingQuery, want ...int) {
		t.Helper()
		got, err := s.Mappings(ctx, q)
		if err != nil {
			t.Fatalf("Mappings(%+v): got error %v, want nil", q, err)
		}
		ids := []int{}
		for _, m := range got {
			ids = append(ids, m.IssueIID)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("Mappings(%+v): got issues %v, want %v", q, ids, want)
		}
	}
	got, err := s.MappingByThread(ctx, "201")
	if err != nil || got.State != sdesk.StateOpened || !got.StateAt.IsZero() {
		t.Errorf("MappingByThread(201) of a legacy item: got %+v, %v, want opened with a zero StateAt", got, err)
	}
	list(sdesk.MappingQuery{}, 3)

	for _, bad := range []sdesk.Mapping{
		{IssueIID: 1, ThreadID: "201", ReporterID: "309"},
		{IssueIID: 1, ThreadID: "209", ReporterID: "301"},
		{IssueIID: 9, ThreadID: "201", ReporterID: "301"},
	} {
		if err := s.PutMapping(ctx, bad); !errors.Is(err, sdesk.ErrConflict) {
			t.Errorf("PutMapping(%d, %q, %q) over a legacy mapping: got error %v, want ErrConflict", bad.IssueIID, bad.ThreadID, bad.ReporterID, err)
		}
	}

	rewrite := sdesk.Mapping{IssueIID: 1, ThreadID: "201", ReporterID: "301", Title: "renamed",
		CreatedAt: time.Now(), State: sdesk.StateClosed, StateAt: time.Now()}
	if err := s.PutMapping(ctx, rewrite); err != nil {
		t.Fatalf("PutMapping(1) over a legacy mapping: got error %v, want nil", err)
	}
	got, err = s.MappingByIssue(ctx, 1)
	want := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	if err != nil || got.Title != "renamed" || got.State != sdesk.StateOpened || !got.StateAt.IsZero() || !got.CreatedAt.Equal(want) {
		t.Errorf("MappingByIssue(1) after the rewrite: got %+v, %v, want renamed, opened, zero StateAt, created %v", got, err, want)
	}
	const sk1 = "2025-03-04T05:06:07.000000000Z#0000000001"
	checkAttrs(t, client, table, "ISSUE#1", map[string]string{"GSI1PK": "REPORTER#301", "GSI1SK": sk1,
		"state": "opened", "state_at": "0001-01-01T00:00:00.000000000Z", "created_at": "2025-03-04T05:06:07Z"})
	checkAttrs(t, client, table, "THREAD#201", map[string]string{"GSI1PK": "MAPPINGS#opened", "GSI1SK": sk1,
		"state": "opened", "state_at": "0001-01-01T00:00:00.000000000Z", "created_at": "2025-03-04T05:06:07Z"})
	list(sdesk.MappingQuery{}, 3, 1)

	at := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
	if err := s.SetMappingState(ctx, 2, sdesk.StateClosed, at); err != nil {
		t.Fatalf("SetMappingState(2) of a legacy mapping: got error %v, want nil", err)
	}
	const sk2 = "2025-03-04T05:06:09.500000000Z#0000000002"
	checkAttrs(t, client, table, "ISSUE#2", map[string]string{"GSI1PK": "REPORTER#301", "GSI1SK": sk2,
		"state": "closed", "state_at": "2025-04-01T00:00:00.000000000Z", "created_at": "2025-03-04T05:06:09.5Z"})
	list(sdesk.MappingQuery{}, 2, 3, 1)
	list(sdesk.MappingQuery{State: sdesk.StateClosed}, 2)
	list(sdesk.MappingQuery{ReporterID: "301", State: sdesk.StateOpened}, 3, 1)
}

// TestMappingWritesOnAFakeDynamoDB plays DynamoDB answers that DynamoDB
// Local does not give (it serializes transactions instead of cancelling
// them with TransactionConflict), and the cancellation reasons of
// SetMappingState: a conflict is tried again, a later state is no error,
// a vanished item is ErrNotFound.
func TestMappingWritesOnAFakeDynamoDB(t *testing.T) {
	cancelled := func(reasons ...string) string {
		return `{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",` +
			`"Message":"Transaction cancelled","CancellationReasons":[` + strings.Join(reasons, ",") + `]}`
	}
	const (
		none      = `{"Code":"None"}`
		conflict  = `{"Code":"TransactionConflict"}`
		gone      = `{"Code":"ConditionalCheckFailed"}`
		later     = `{"Code":"ConditionalCheckFailed","Item":{"PK":{"S":"ISSUE#5"},"iid":{"N":"5"},"state_at":{"S":"2030-01-01T00:00:00.000000000Z"}}}`
		notLater  = `{"Code":"ConditionalCheckFailed","Item":{"PK":{"S":"ISSUE#5"},"iid":{"N":"5"},"state_at":{"S":"2020-01-01T00:00:00.000000000Z"}}}`
		elsewhere = `{"Code":"ConditionalCheckFailed","Item":{"PK":{"S":"THREAD#205"},"iid":{"N":"9"},"state_at":{"S":"2020-01-01T00:00:00.000000000Z"}}}`
		item      = `{"Item":{"PK":{"S":"ISSUE#5"},"SK":{"S":"MAPPING"},"iid":{"N":"5"},"thread_id":{"S":"205"},` +
			`"reporter_id":{"S":"301"},"created_at":{"S":"2025-03-04T05:06:07Z"}}}`
	)
	tests := []struct {
		name      string
		set       bool // SetMappingState, else PutMapping
		answers   []string
		want      error // nil, ErrNotFound or ErrConflict; errAny for another error
		wantCalls int
	}{
		{"put: conflict, then written", false, []string{cancelled(conflict, none), ""}, nil, 2},
		{"put: conflict on the thread, then written", false, []string{cancelled(none, conflict), ""}, nil, 2},
		{"put: conflict every time", false, slices.Repeat([]string{cancelled(conflict, none)}, 5), errAny, 5},
		{"set: conflict, then written", true, []string{cancelled(none, conflict), ""}, nil, 2},
		{"set: a later state on both", true, []string{cancelled(later, later)}, nil, 1},
		{"set: a later state and a conflict", true, []string{cancelled(later, conflict)}, nil, 1},
		{"set: a condition failed without a later state", true, []string{cancelled(notLater, none)}, errAny, 1},
		{"set: the issue item is gone", true, []string{cancelled(gone, none)}, sdesk.ErrNotFound, 1},
		{"set: the thread item is gone", true, []string{cancelled(none, gone)}, errAny, 1},
		{"set: the thread maps another issue", true, []string{cancelled(none, elsewhere)}, errAny, 1},
		{"set: conflict every time", true, slices.Repeat([]string{cancelled(conflict, none)}, 5), errAny, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				switch target := r.Header.Get("X-Amz-Target"); target {
				case "DynamoDB_20120810.GetItem":
					_, _ = io.WriteString(w, item)
					return
				case "DynamoDB_20120810.TransactWriteItems":
				default:
					t.Errorf("call: got %q, want GetItem or TransactWriteItems", target)
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				var body struct{ TransactItems []json.RawMessage }
				_ = json.NewDecoder(r.Body).Decode(&body)
				if len(body.TransactItems) != 2 {
					t.Errorf("TransactWriteItems: got %d items, want 2", len(body.TransactItems))
				}
				n := int(calls.Add(1))
				if n > len(tt.answers) || tt.answers[n-1] == "" {
					_, _ = io.WriteString(w, `{}`)
					return
				}
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, tt.answers[n-1])
			}))
			defer srv.Close()
			s := dynamo.New(dynamo.NewClient(awsenv.Config(), srv.URL), "sdesk")
			var err error
			if tt.set {
				err = s.SetMappingState(t.Context(), 5, sdesk.StateClosed, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
			} else {
				err = s.PutMapping(t.Context(), sdesk.Mapping{IssueIID: 5, ThreadID: "205", ReporterID: "301", CreatedAt: time.Now()})
			}
			switch {
			case tt.want == errAny:
				if err == nil || errors.Is(err, sdesk.ErrNotFound) || errors.Is(err, sdesk.ErrConflict) {
					t.Errorf("got error %v, want an error that is neither ErrNotFound nor ErrConflict", err)
				}
			case tt.want == nil:
				if err != nil {
					t.Errorf("got error %v, want nil", err)
				}
			case !errors.Is(err, tt.want):
				t.Errorf("got error %v, want %v", err, tt.want)
			}
			if got := int(calls.Load()); got != tt.wantCalls {
				t.Errorf("TransactWriteItems calls: got %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

// errAny stands for an error other than the sdesk ones in a table.
var errAny = errors.New("any other error")

// TestMappingsQueries checks the Queries of Mappings on a fake DynamoDB:
// newest first on GSI1, a read Limit of Offset+Limit (none for no limit
// or a large window), and a mapping that GSI1 still lists under its old
// state as well as its new one (the index is updated asynchronously) is
// returned once.
func TestMappingsQueries(t *testing.T) {
	isolate(t)
	item := func(iid, state, stateAt string) string {
		return `{"PK":{"S":"THREAD#20` + iid + `"},"SK":{"S":"MAPPING"},"GSI1PK":{"S":"MAPPINGS#` + state + `"},` +
			`"GSI1SK":{"S":"2025-03-04T05:06:07.000000000Z#000000000` + iid + `"},"iid":{"N":"` + iid + `"},` +
			`"thread_id":{"S":"20` + iid + `"},"reporter_id":{"S":"301"},"created_at":{"S":"2025-03-04T05:06:07Z"},` +
			`"state":{"S":"` + state + `"},"state_at":{"S":"` + stateAt + `"}}`
	}
	partitions := map[string]string{
		// Issue 2 was just closed: GSI1 lists it under both states.
		"MAPPINGS#opened": `{"Count":2,"Items":[` + item("2", "opened", "2025-03-05T00:00:00.000000000Z") + `,` +
			item("1", "opened", "2025-03-05T00:00:00.000000000Z") + `]}`,
		"MAPPINGS#closed": `{"Count":1,"Items":[` + item("2", "closed", "2025-03-06T00:00:00.000000000Z") + `]}`,
	}
	type query struct {
		pk    string
		limit int32
	}
	var queries []query
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if got := r.Header.Get("X-Amz-Target"); got != "DynamoDB_20120810.Query" {
			t.Errorf("call: got %q, want Query", got)
		}
		var in struct {
			IndexName                 string
			ScanIndexForward          *bool
			Limit                     int32
			ExpressionAttributeValues map[string]struct{ S string }
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.IndexName != "GSI1" || in.ScanIndexForward == nil || *in.ScanIndexForward {
			t.Errorf("Query: got index %q, ScanIndexForward %v, want GSI1 newest first", in.IndexName, in.ScanIndexForward)
		}
		pk := in.ExpressionAttributeValues[":pk"].S
		queries = append(queries, query{pk, in.Limit})
		_, _ = io.WriteString(w, partitions[pk])
	}))
	defer srv.Close()
	s := dynamo.New(dynamo.NewClient(awsenv.Config(), srv.URL), "sdesk")

	tests := []struct {
		q           sdesk.MappingQuery
		want        []string // issue and state
		wantQueries []query
	}{
		{sdesk.MappingQuery{}, []string{"2 closed", "1 opened"}, []query{{"MAPPINGS#opened", 0}, {"MAPPINGS#closed", 0}}},
		{sdesk.MappingQuery{Offset: 1, Limit: 2}, []string{"1 opened"}, []query{{"MAPPINGS#opened", 3}, {"MAPPINGS#closed", 3}}},
		{sdesk.MappingQuery{Limit: 1000}, []string{"2 closed", "1 opened"}, []query{{"MAPPINGS#opened", 1000}, {"MAPPINGS#closed", 1000}}},
		{sdesk.MappingQuery{Offset: 1, Limit: 1000}, []string{"1 opened"}, []query{{"MAPPINGS#opened", 0}, {"MAPPINGS#closed", 0}}},
		{sdesk.MappingQuery{State: sdesk.StateOpened, Limit: 10}, []string{"2 opened", "1 opened"}, []query{{"MAPPINGS#opened", 10}}},
		{sdesk.MappingQuery{Offset: -1, Limit: -1}, []string{"2 closed", "1 opened"}, []query{{"MAPPINGS#opened", 0}, {"MAPPINGS#closed", 0}}},
	}
	for _, tt := range tests {
		queries = nil
		got, err := s.Mappings(t.Context(), tt.q)
		if err != nil {
			t.Fatalf("Mappings(%+v): got error %v, want nil", tt.q, err)
		}
		ids := []string{}
		for _, m := range got {
			ids = append(ids, strconv.Itoa(m.IssueIID)+" "+m.State)
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("Mappings(%+v): got %q, want %q", tt.q, ids, tt.want)
		}
		if !slices.Equal(queries, tt.wantQueries) {
			t.Errorf("Mappings(%+v): got Queries %v, want %v", tt.q, queries, tt.wantQueries)
		}
	}
}

// TestMappingInputLimits: what the item keys cannot hold is refused
// before any call: an IID over 10 digits, a time outside the years 0 to
// 9999 (its sort key would not sort), a state other than opened or closed.
func TestMappingInputLimits(t *testing.T) {
	isolate(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("call %q: want none", r.Header.Get("X-Amz-Target"))
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	s := dynamo.New(dynamo.NewClient(awsenv.Config(), srv.URL), "sdesk")
	now := time.Now()
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	check := func(what string, err error) {
		t.Helper()
		if err == nil || errors.Is(err, sdesk.ErrConflict) || errors.Is(err, sdesk.ErrNotFound) || !strings.HasPrefix(err.Error(), "dynamo: ") {
			t.Errorf("%s: got error %v, want a dynamo: error that is neither ErrConflict nor ErrNotFound", what, err)
		}
	}
	puts := []struct {
		name string
		m    sdesk.Mapping
	}{
		{"IID over 10 digits", sdesk.Mapping{IssueIID: 10_000_000_000, ThreadID: "201", CreatedAt: now}},
		{"IID 0", sdesk.Mapping{IssueIID: 0, ThreadID: "201", CreatedAt: now}},
		{"no thread", sdesk.Mapping{IssueIID: 1, CreatedAt: now}},
		{"created in year 10000", sdesk.Mapping{IssueIID: 1, ThreadID: "201", CreatedAt: far}},
		{"created before year 0", sdesk.Mapping{IssueIID: 1, ThreadID: "201", CreatedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"state time in year 10000", sdesk.Mapping{IssueIID: 1, ThreadID: "201", CreatedAt: now, StateAt: far}},
		{"unknown state", sdesk.Mapping{IssueIID: 1, ThreadID: "201", CreatedAt: now, State: "locked"}},
	}
	for _, tt := range puts {
		check("PutMapping: "+tt.name, s.PutMapping(t.Context(), tt.m))
	}
	sets := []struct {
		name  string
		state string
		at    time.Time
	}{
		{"time in year 10000", sdesk.StateClosed, far},
		{"unknown state", "locked", now},
	}
	for _, tt := range sets {
		check("SetMappingState: "+tt.name, s.SetMappingState(t.Context(), 1, tt.state, tt.at))
	}
}
