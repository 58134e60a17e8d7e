// Package dynamo implements sdesk.Store on one DynamoDB table (the Table
// resource of template.yaml).
//
// Item layout (string keys PK/SK; TTL attribute expires_at in epoch
// seconds; sparse index GSI1 on GSI1PK/GSI1SK; <time> is UTC with a fixed
// nine-digit fraction, so the strings sort like the times):
//
//	issue mapping    PK=ISSUE#<iid>          SK=MAPPING, GSI1PK=REPORTER#<reporterID>,
//	                 GSI1SK=<created time>#<iid, 10 digits>, state, state_at=<time>
//	thread mapping   PK=THREAD#<threadID>    SK=MAPPING, GSI1PK=MAPPINGS#<state>,
//	                 GSI1SK=<created time>#<iid, 10 digits>, state, state_at=<time>
//	claim            PK=CLAIM#<key>          SK=CLAIM, expires_at
//	job              PK=JOB#<id>             SK=JOB, GSI1PK=JOBS#<status>,
//	                 GSI1SK=<created time>#<id>,
//	                 expires_at when the job has an expiry
//	note messages    PK=ISSUE#<iid>          SK=NOTE#<noteID, 12 digits>
//
// Both mapping items carry the whole mapping (iid, issue_url, thread_id,
// guild_id, channel_id, reporter_id, title, created_at), so a Query on GSI1
// answers Mappings without further reads: REPORTER#<id> lists a reporter's
// mappings, MAPPINGS#<state> every mapping in a state, newest first with
// ScanIndexForward=false. state_at of the state a mapping was first
// written with is the zero time (0001-01-01T00:00:00.000000000Z).
//
// Mapping items written by earlier versions have no GSI1PK, GSI1SK, state
// or state_at: they read as opened, and Mappings does not list them until
// PutMapping or SetMappingState writes them again, which adds the four
// (opened, for PutMapping) and keeps created_at.
//
// Tables written by earlier versions may also hold reporter items
// (PK=REPORTER#<userID>, SK=ISSUE#<iid, 10 digits>, a copy of the mapping).
// Nothing reads or writes them any more; they are left as they are, do no
// harm and may be deleted by hand.
//
// DynamoDB deletes expired items late (DynamoDB Local never does), so every
// read checks the expiry itself and Claim overwrites an expired claim with a
// condition expression.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Attribute and key names.
const (
	attrPK        = "PK"
	attrSK        = "SK"
	attrGSI1PK    = "GSI1PK"
	attrGSI1SK    = "GSI1SK"
	attrExpiresAt = "expires_at"
	attrState     = "state"
	attrStateAt   = "state_at"
	indexGSI1     = "GSI1"

	skMapping = "MAPPING"
	skClaim   = "CLAIM"
	skJob     = "JOB"
)

// sortTime is RFC 3339 with a fixed nine-digit fraction, so that strings
// sort like the times they encode (RFC3339Nano trims trailing zeros and
// would put "…05Z" after "…05.1Z"). It holds for years 0 to 9999 only
// (checkTime).
const sortTime = "2006-01-02T15:04:05.000000000Z07:00"

// maxIID is the largest issue IID a mapping's sort key (10 digits) holds.
const maxIID = 9_999_999_999

// maxRead is the largest Query Limit Mappings sets from Offset+Limit; a
// larger window reads DynamoDB's 1 MB pages.
const maxRead = 1000

// transactTries is how many TransactWriteItems calls transact makes at
// most while DynamoDB cancels them with TransactionConflict.
const transactTries = 5

// Store is a sdesk.Store backed by DynamoDB.
type Store struct {
	client *dynamodb.Client
	table  string
	now    func() time.Time
	// pageSize is the Limit of each Query of Mappings (0: DynamoDB's own,
	// up to 1 MB a page); tests set it small to make Mappings page.
	pageSize int32
}

var _ sdesk.Store = (*Store)(nil)

// New returns a Store that keeps its items in table.
func New(client *dynamodb.Client, table string) *Store {
	return &Store{client: client, table: table, now: time.Now}
}

func issuePK(iid int) string          { return "ISSUE#" + strconv.Itoa(iid) }
func threadPK(threadID string) string { return "THREAD#" + threadID }
func claimPK(key string) string       { return "CLAIM#" + key }
func jobPK(id string) string          { return "JOB#" + id }
func jobsPK(status sdesk.JobStatus) string {
	return "JOBS#" + string(status)
}
func noteSK(noteID int) string { return fmt.Sprintf("NOTE#%012d", noteID) }

// reporterPK and mappingsPK are the GSI1 partitions of mappings: a
// reporter's (issue items), and every mapping in a state (thread items).
func reporterPK(reporterID string) string { return "REPORTER#" + reporterID }
func mappingsPK(state string) string      { return "MAPPINGS#" + state }

// mappingSK is the GSI1 sort key of both mapping items: newest first is
// descending order, issues created at the same time by IID.
func mappingSK(created time.Time, iid int) string {
	return created.UTC().Format(sortTime) + fmt.Sprintf("#%010d", iid)
}

// checkTime refuses a time whose sortTime string would not sort like the
// time (a year outside 0 to 9999, in UTC).
func checkTime(what string, t time.Time) error {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("%s %v: year outside 0 to 9999", what, t)
	}
	return nil
}

func validState(state string) bool {
	return state == sdesk.StateOpened || state == sdesk.StateClosed
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: pk},
		attrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// epochNow is the current time in fractional epoch seconds, for comparisons
// with expires_at.
func epochNow(now time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatFloat(float64(now.UnixMilli())/1000, 'f', 3, 64)}
}

// expiresAt is t rounded up to whole epoch seconds, so that neither the TTL
// sweeper nor the expires_at conditions ever drop a record early.
func expiresAt(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// mappingItem is the stored form of a mapping (the issue and the thread
// item both carry the full mapping). GSI1PK, GSI1SK, State and StateAt
// are empty in an item written before states were kept.
type mappingItem struct {
	PK         string `dynamodbav:"PK"`
	SK         string `dynamodbav:"SK"`
	GSI1PK     string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK     string `dynamodbav:"GSI1SK,omitempty"`
	IssueIID   int    `dynamodbav:"iid"`
	IssueURL   string `dynamodbav:"issue_url"`
	ThreadID   string `dynamodbav:"thread_id"`
	GuildID    string `dynamodbav:"guild_id"`
	ChannelID  string `dynamodbav:"channel_id"`
	ReporterID string `dynamodbav:"reporter_id"`
	Title      string `dynamodbav:"title"`
	CreatedAt  string `dynamodbav:"created_at"`
	State      string `dynamodbav:"state,omitempty"`
	StateAt    string `dynamodbav:"state_at,omitempty"`
}

func (it mappingItem) mapping() (sdesk.Mapping, error) {
	created, err := parseTime(it.CreatedAt)
	if err != nil {
		return sdesk.Mapping{}, err
	}
	stateAt, err := parseTime(it.StateAt)
	if err != nil {
		return sdesk.Mapping{}, err
	}
	if stateAt.IsZero() {
		stateAt = time.Time{}
	}
	state := it.State
	if state == "" {
		state = sdesk.StateOpened // written before states were kept
	}
	return sdesk.Mapping{
		IssueIID:   it.IssueIID,
		IssueURL:   it.IssueURL,
		ThreadID:   it.ThreadID,
		GuildID:    it.GuildID,
		ChannelID:  it.ChannelID,
		ReporterID: it.ReporterID,
		Title:      it.Title,
		CreatedAt:  created,
		State:      state,
		StateAt:    stateAt,
	}, nil
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q: %w", s, err)
	}
	return t, nil
}

// transact runs a TransactWriteItems call, and runs it again (with a fresh
// ClientRequestToken, so it is not taken for a replay) while DynamoDB
// cancels it with TransactionConflict and no condition failed: a
// concurrent transaction on one of its items, after whose commit a retry
// sees the outcome. At most transactTries calls; the last error is
// returned as the SDK gave it.
func (s *Store) transact(ctx context.Context, in *dynamodb.TransactWriteItemsInput) error {
	for try := 1; ; try++ {
		in.ClientRequestToken = nil // the SDK fills in a fresh one
		_, err := s.client.TransactWriteItems(ctx, in)
		if err == nil {
			return nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) || !conflictOnly(tce.CancellationReasons) || try == transactTries {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(try*try) * 10 * time.Millisecond):
		}
	}
}

// conflictOnly reports whether a cancellation is worth another try: some
// item had a TransactionConflict and no condition failed.
func conflictOnly(reasons []types.CancellationReason) bool {
	conflict := false
	for _, r := range reasons {
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed":
			return false
		case "TransactionConflict":
			conflict = true
		}
	}
	return conflict
}

// mappingWrite is what PutMapping writes; created, state and stateAt go
// only into items that have none (if_not_exists).
type mappingWrite struct {
	m       sdesk.Mapping
	created string // created_at as stored
	sk      string // GSI1SK of created
	state   string
	stateAt time.Time
}

// PutMapping writes the issue and thread items in one TransactWriteItems.
// The issue item may only be written if it is absent or already maps to the
// same thread and reporter, the thread item only if it is absent or already
// maps to the same issue; otherwise nothing is written and the error wraps
// sdesk.ErrConflict. Re-writing a mapping updates every field except
// CreatedAt, State and StateAt, which keep their first values (State ""
// is sdesk.StateOpened; another state than opened or closed is an
// error). An IID above 9,999,999,999 or a time outside the years 0 to
// 9999 is an error too.
//
// An item written before states were kept has no GSI1 keys and no state:
// the first transaction's condition refuses it, and a second one, on the
// condition that created_at is still what the refusal returned, adds them
// (state opened, the stored created_at in GSI1SK).
func (s *Store) PutMapping(ctx context.Context, m sdesk.Mapping) error {
	if m.IssueIID <= 0 || m.IssueIID > maxIID || m.ThreadID == "" {
		return fmt.Errorf("dynamo: put mapping: need an issue IID (1 to %d) and a thread ID, got %d and %q", maxIID, m.IssueIID, m.ThreadID)
	}
	w := mappingWrite{m: m, created: formatTime(m.CreatedAt), sk: mappingSK(m.CreatedAt, m.IssueIID), state: m.State, stateAt: m.StateAt}
	if w.state == "" {
		w.state = sdesk.StateOpened
	}
	if !validState(w.state) {
		return fmt.Errorf("dynamo: put mapping of issue %d: unknown state %q", m.IssueIID, m.State)
	}
	for _, err := range []error{checkTime("created", m.CreatedAt), checkTime("state time", m.StateAt)} {
		if err != nil {
			return fmt.Errorf("dynamo: put mapping of issue %d: %w", m.IssueIID, err)
		}
	}
	for legacy := false; ; legacy = true {
		err := s.transact(ctx, s.putMappingInput(w, legacy))
		if err == nil {
			return nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return fmt.Errorf("dynamo: put mapping of issue %d: %w", m.IssueIID, err)
		}
		if msg := conflictMessage(m, tce.CancellationReasons); msg != "" {
			return fmt.Errorf("dynamo: put mapping: %s: %w", msg, sdesk.ErrConflict)
		}
		old, ok := legacyIssueItem(tce.CancellationReasons)
		if legacy || !ok {
			return fmt.Errorf("dynamo: put mapping of issue %d: %w", m.IssueIID, err)
		}
		created, err := parseTime(old.CreatedAt)
		if err != nil {
			return fmt.Errorf("dynamo: put mapping of issue %d: stored mapping: %w", m.IssueIID, err)
		}
		if err := checkTime("stored created", created); err != nil {
			return fmt.Errorf("dynamo: put mapping of issue %d: %w", m.IssueIID, err)
		}
		w.created, w.sk, w.state, w.stateAt = old.CreatedAt, mappingSK(created, m.IssueIID), sdesk.StateOpened, time.Time{}
	}
}

// putMappingInput is the transaction of PutMapping: the issue item, then
// the thread item (conflictMessage reads the cancellation reasons by
// position). legacy is the second try on an issue item written before
// states were kept, whose created_at w.created holds.
func (s *Store) putMappingInput(w mappingWrite, legacy bool) *dynamodb.TransactWriteItemsInput {
	m := w.m
	names := map[string]string{
		"#pk": attrPK, "#iid": "iid", "#url": "issue_url", "#thread": "thread_id", "#guild": "guild_id",
		"#channel": "channel_id", "#reporter": "reporter_id", "#title": "title", "#created": "created_at",
		"#state": attrState, "#sat": attrStateAt, "#gpk": attrGSI1PK, "#gsk": attrGSI1SK,
	}
	values := map[string]types.AttributeValue{
		":iid":      num(int64(m.IssueIID)),
		":url":      str(m.IssueURL),
		":thread":   str(m.ThreadID),
		":guild":    str(m.GuildID),
		":channel":  str(m.ChannelID),
		":reporter": str(m.ReporterID),
		":title":    str(m.Title),
		":created":  str(w.created),
		":state":    str(w.state),
		":sat":      str(w.stateAt.UTC().Format(sortTime)),
		":sk":       str(w.sk),
	}
	const set = "SET #iid = :iid, #url = :url, #thread = :thread, #guild = :guild, #channel = :channel, " +
		"#reporter = :reporter, #title = :title, #created = if_not_exists(#created, :created), " +
		"#state = if_not_exists(#state, :state), #sat = if_not_exists(#sat, :sat), #gsk = if_not_exists(#gsk, :sk), "
	// gsi1 is how GSI1PK (:gpk) is set: the reporter never changes, the
	// state only through SetMappingState.
	update := func(pk, cond, gsi1, gpk string) types.TransactWriteItem {
		v := maps.Clone(values)
		v[":gpk"] = str(gpk)
		return types.TransactWriteItem{Update: &types.Update{
			TableName:                           aws.String(s.table),
			Key:                                 key(pk, skMapping),
			UpdateExpression:                    aws.String(set + "#gpk = " + gsi1),
			ConditionExpression:                 aws.String(cond),
			ExpressionAttributeNames:            maps.Clone(names),
			ExpressionAttributeValues:           v,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}
	}
	// An existing issue item must carry the GSI1 keys, or (second try)
	// still have the created_at the first try read.
	issueCond := "attribute_not_exists(#pk) OR (#thread = :thread AND #reporter = :reporter AND attribute_exists(#gpk))"
	if legacy {
		issueCond = "attribute_exists(#pk) AND #thread = :thread AND #reporter = :reporter AND (attribute_exists(#gpk) OR #created = :created)"
	}
	return &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		update(issuePK(m.IssueIID), issueCond, ":gpk", reporterPK(m.ReporterID)),
		update(threadPK(m.ThreadID), "attribute_not_exists(#pk) OR #iid = :iid", "if_not_exists(#gpk, :gpk)", mappingsPK(w.state)),
	}}
}

// conflictMessage describes the failed conditions of a cancelled PutMapping
// transaction that refuse the mapping (another thread or reporter for the
// issue, another issue for the thread), or returns "" when none did.
func conflictMessage(m sdesk.Mapping, reasons []types.CancellationReason) string {
	var msg string
	add := func(s string) {
		if msg != "" {
			msg += "; "
		}
		msg += s
	}
	for i, r := range reasons {
		if aws.ToString(r.Code) != "ConditionalCheckFailed" || len(r.Item) == 0 {
			continue
		}
		var old mappingItem
		_ = attributevalue.UnmarshalMap(r.Item, &old)
		switch {
		case i == 0 && old.ThreadID != m.ThreadID:
			add(fmt.Sprintf("issue %d is mapped to thread %q", m.IssueIID, old.ThreadID))
		case i == 0 && old.ReporterID != m.ReporterID:
			add(fmt.Sprintf("issue %d belongs to reporter %q", m.IssueIID, old.ReporterID))
		case i == 1 && old.IssueIID != m.IssueIID:
			add(fmt.Sprintf("thread %q is mapped to issue %d", m.ThreadID, old.IssueIID))
		}
	}
	return msg
}

// legacyIssueItem returns the issue item of a cancelled PutMapping
// transaction when the only failed condition was that it has no GSI1
// keys: an item written before states were kept.
func legacyIssueItem(reasons []types.CancellationReason) (mappingItem, bool) {
	var old mappingItem
	for i, r := range reasons {
		failed := aws.ToString(r.Code) == "ConditionalCheckFailed"
		if failed != (i == 0) {
			return mappingItem{}, false
		}
		if i == 0 {
			if len(r.Item) == 0 || attributevalue.UnmarshalMap(r.Item, &old) != nil || old.GSI1PK != "" {
				return mappingItem{}, false
			}
		}
	}
	return old, len(reasons) > 0
}

// SetMappingState records issue iid's state as of at, unless the mapping
// holds a state of a later time; see sdesk.Store. It reads the issue item
// (for the thread's ID; sdesk.ErrNotFound when absent), then updates both
// items in one TransactWriteItems conditioned on both: state_at absent or
// not after at. A refusal for a later state_at is no error. A state other
// than opened or closed, or a time outside the years 0 to 9999, is an
// error. An item written before states were kept also gets its GSI1 keys.
func (s *Store) SetMappingState(ctx context.Context, iid int, state string, at time.Time) error {
	if !validState(state) {
		return fmt.Errorf("dynamo: set state of issue %d: unknown state %q", iid, state)
	}
	if err := checkTime("state time", at); err != nil {
		return fmt.Errorf("dynamo: set state of issue %d: %w", iid, err)
	}
	it, err := s.getMappingItem(ctx, issuePK(iid))
	if err != nil {
		return fmt.Errorf("dynamo: set state of issue %d: %w", iid, err)
	}
	created, err := parseTime(it.CreatedAt)
	if err == nil {
		err = checkTime("stored created", created)
	}
	if err != nil {
		return fmt.Errorf("dynamo: set state of issue %d: %w", iid, err)
	}
	atStr := at.UTC().Format(sortTime)
	update := func(pk, gsi1pk, cond string) types.TransactWriteItem {
		names := map[string]string{
			"#pk": attrPK, "#iid": "iid", "#state": attrState, "#sat": attrStateAt, "#gpk": attrGSI1PK, "#gsk": attrGSI1SK,
		}
		values := map[string]types.AttributeValue{
			":iid": num(int64(iid)), ":state": str(state), ":at": str(atStr), ":gpk": str(gsi1pk), ":sk": str(mappingSK(created, iid)),
		}
		return types.TransactWriteItem{Update: &types.Update{
			TableName:                           aws.String(s.table),
			Key:                                 key(pk, skMapping),
			UpdateExpression:                    aws.String("SET #state = :state, #sat = :at, #gpk = :gpk, #gsk = if_not_exists(#gsk, :sk)"),
			ConditionExpression:                 aws.String(cond),
			ExpressionAttributeNames:            names,
			ExpressionAttributeValues:           values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}
	}
	// Both items exist, name the issue and hold no state of a later time.
	const cond = "attribute_exists(#pk) AND #iid = :iid AND (attribute_not_exists(#sat) OR #sat <= :at)"
	err = s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		update(issuePK(iid), reporterPK(it.ReporterID), cond),
		update(threadPK(it.ThreadID), mappingsPK(state), cond),
	}})
	if err == nil {
		return nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		if later, why := laterState(iid, it.ThreadID, atStr, tce.CancellationReasons); later {
			return nil
		} else if why != nil {
			return fmt.Errorf("dynamo: set state of issue %d: %w", iid, why)
		}
	}
	return fmt.Errorf("dynamo: set state of issue %d: %w", iid, err)
}

// laterState reads the cancellation of a SetMappingState transaction:
// later is true when every failed condition found a state of a time after
// at (a stale event: nothing to do); otherwise why says what else failed
// (nil when no condition did).
func laterState(iid int, threadID, at string, reasons []types.CancellationReason) (later bool, why error) {
	failed := 0
	for i, r := range reasons {
		if aws.ToString(r.Code) != "ConditionalCheckFailed" {
			continue
		}
		failed++
		var old mappingItem
		if len(r.Item) > 0 {
			if err := attributevalue.UnmarshalMap(r.Item, &old); err != nil {
				return false, fmt.Errorf("decode mapping item: %w", err)
			}
		}
		switch {
		case len(r.Item) == 0 && i == 0:
			return false, sdesk.ErrNotFound
		case len(r.Item) == 0:
			return false, fmt.Errorf("thread %q has no mapping item", threadID)
		case old.IssueIID != iid:
			return false, fmt.Errorf("%s is mapped to issue %d", old.PK, old.IssueIID)
		case old.StateAt <= at:
			return false, fmt.Errorf("condition failed on state time %q, not after %q", old.StateAt, at)
		}
	}
	return failed > 0, nil
}

// Mappings returns the mappings q selects, newest first; see sdesk.Store.
// It queries GSI1 newest first: REPORTER#<q.ReporterID> (the state
// filtered in the query) when q names a reporter, else MAPPINGS#<q.State>,
// else MAPPINGS#opened and MAPPINGS#closed merged. Each query reads pages
// (up to 1 MB, or Offset+Limit items when smaller) until Offset+Limit
// mappings are found or the partition ends. GSI1 is updated
// asynchronously: a mapping written or changed a moment ago may be
// missing or still listed under its old state (never twice).
func (s *Store) Mappings(ctx context.Context, q sdesk.MappingQuery) ([]sdesk.Mapping, error) {
	offset, limit := max(q.Offset, 0), max(q.Limit, 0)
	read := s.pageSize
	if limit > 0 && offset < maxRead && limit <= maxRead-offset {
		if n := int32(offset + limit); read == 0 || n < read {
			read = n
		}
	}
	var streams []*mappingStream
	switch {
	case q.ReporterID != "":
		streams = append(streams, s.mappingStream(reporterPK(q.ReporterID), q.State, read))
	case q.State != "":
		streams = append(streams, s.mappingStream(mappingsPK(q.State), "", read))
	default:
		streams = append(streams,
			s.mappingStream(mappingsPK(sdesk.StateOpened), "", read),
			s.mappingStream(mappingsPK(sdesk.StateClosed), "", read))
	}
	out := []sdesk.Mapping{}
	last := ""
	for limit == 0 || len(out) < limit {
		var next *mappingStream
		for _, st := range streams {
			if err := st.fill(ctx); err != nil {
				return nil, fmt.Errorf("dynamo: list mappings: %w", err)
			}
			if len(st.items) > 0 && (next == nil || before(st.items[0], next.items[0])) {
				next = st
			}
		}
		if next == nil {
			break
		}
		it := next.items[0]
		next.items = next.items[1:]
		if it.GSI1SK == last {
			continue // the older copy of a mapping GSI1 lists under both states
		}
		last = it.GSI1SK
		if offset > 0 {
			offset--
			continue
		}
		m, err := it.mapping()
		if err != nil {
			return nil, fmt.Errorf("dynamo: list mappings: %s: %w", it.PK, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// before reports whether a comes before b in Mappings: created later, or
// at the same time with a greater IID (GSI1SK), or the same mapping in a
// later state. GSI1 is updated asynchronously, so for a moment it may
// list a mapping under its old state as well as its new one.
func before(a, b mappingItem) bool {
	if a.GSI1SK != b.GSI1SK {
		return a.GSI1SK > b.GSI1SK
	}
	return a.StateAt > b.StateAt
}

// mappingStream reads one GSI1 partition of mappings, newest first, a
// page at a time.
type mappingStream struct {
	pages *dynamodb.QueryPaginator
	items []mappingItem
}

// mappingStream queries partition pk of GSI1, newest first, read items a
// page (0: DynamoDB's 1 MB), only items in state when it is not "".
func (s *Store) mappingStream(pk, state string, read int32) *mappingStream {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(indexGSI1),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ScanIndexForward:          aws.Bool(false),
		ExpressionAttributeNames:  map[string]string{"#pk": attrGSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
	}
	if state != "" {
		in.FilterExpression = aws.String("#state = :state")
		in.ExpressionAttributeNames["#state"] = attrState
		in.ExpressionAttributeValues[":state"] = str(state)
	}
	if read > 0 {
		in.Limit = aws.Int32(read)
	}
	return &mappingStream{pages: dynamodb.NewQueryPaginator(s.client, in)}
}

// fill reads pages until the stream holds an item or has none left (a
// page may hold none: Limit counts the items read before the filter).
func (st *mappingStream) fill(ctx context.Context) error {
	for len(st.items) == 0 && st.pages.HasMorePages() {
		page, err := st.pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, item := range page.Items {
			var it mappingItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return err
			}
			st.items = append(st.items, it)
		}
	}
	return nil
}

// MappingByIssue returns the mapping of an issue, or sdesk.ErrNotFound.
func (s *Store) MappingByIssue(ctx context.Context, iid int) (sdesk.Mapping, error) {
	m, err := s.getMapping(ctx, issuePK(iid))
	if err != nil {
		return sdesk.Mapping{}, fmt.Errorf("dynamo: mapping of issue %d: %w", iid, err)
	}
	return m, nil
}

// MappingByThread returns the mapping of a thread, or sdesk.ErrNotFound.
func (s *Store) MappingByThread(ctx context.Context, threadID string) (sdesk.Mapping, error) {
	m, err := s.getMapping(ctx, threadPK(threadID))
	if err != nil {
		return sdesk.Mapping{}, fmt.Errorf("dynamo: mapping of thread %q: %w", threadID, err)
	}
	return m, nil
}

func (s *Store) getMapping(ctx context.Context, pk string) (sdesk.Mapping, error) {
	it, err := s.getMappingItem(ctx, pk)
	if err != nil {
		return sdesk.Mapping{}, err
	}
	return it.mapping()
}

// getMappingItem reads a mapping item (consistently), or sdesk.ErrNotFound.
func (s *Store) getMappingItem(ctx context.Context, pk string) (mappingItem, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(pk, skMapping),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return mappingItem{}, err
	}
	if out.Item == nil {
		return mappingItem{}, sdesk.ErrNotFound
	}
	var it mappingItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return mappingItem{}, err
	}
	return it, nil
}

// Claim writes the claim item unless an unexpired one exists. The item's
// expires_at is rounded up to whole seconds, so a claim lasts at least ttl
// and less than ttl plus one second.
func (s *Store) Claim(ctx context.Context, claimKey string, ttl time.Duration) (bool, error) {
	if claimKey == "" || ttl <= 0 {
		return false, fmt.Errorf("dynamo: claim: need a key and a positive ttl, got %q and %v", claimKey, ttl)
	}
	p := s.claimPut(claimKey, ttl)
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression,
		ExpressionAttributeNames: p.ExpressionAttributeNames, ExpressionAttributeValues: p.ExpressionAttributeValues,
	})
	if err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return false, nil
		}
		return false, fmt.Errorf("dynamo: claim %q: %w", claimKey, err)
	}
	return true, nil
}

// claimPut is the conditional write of a claim item: it succeeds only if
// no unexpired claim on the key exists.
func (s *Store) claimPut(claimKey string, ttl time.Duration) *types.Put {
	now := s.now()
	item := key(claimPK(claimKey), skClaim)
	item[attrExpiresAt] = num(expiresAt(now.Add(ttl)))
	return &types.Put{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #exp < :now"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#exp": attrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": epochNow(now)},
	}
}

// ClaimJob claims key and stores j in one TransactWriteItems call: the job
// is written only when the claim's condition holds, so a crash can never
// leave a claim without its job.
func (s *Store) ClaimJob(ctx context.Context, claimKey string, ttl time.Duration, j sdesk.Job) (bool, error) {
	if claimKey == "" || ttl <= 0 || j.ID == "" {
		return false, fmt.Errorf("dynamo: claim job: need a key, a positive ttl and a job ID, got %q, %v and %q", claimKey, ttl, j.ID)
	}
	job, err := attributevalue.MarshalMap(newJobItem(j))
	if err != nil {
		return false, fmt.Errorf("dynamo: claim job %q: %w", j.ID, err)
	}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: s.claimPut(claimKey, ttl)},
		{Put: &types.Put{TableName: aws.String(s.table), Item: job}},
	}}
	// Concurrent transactions on one claim (or on the job: a resend racing
	// a running job's update) cancel each other with TransactionConflict;
	// transact tries again, and a retry sees the other's outcome.
	err = s.transact(ctx, in)
	if err == nil {
		return true, nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) && len(tce.CancellationReasons) > 0 &&
		aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
		return false, nil
	}
	return false, fmt.Errorf("dynamo: claim job %q: %w", j.ID, err)
}

// Release deletes a claim.
func (s *Store) Release(ctx context.Context, claimKey string) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key:       key(claimPK(claimKey), skClaim),
	})
	if err != nil {
		return fmt.Errorf("dynamo: release %q: %w", claimKey, err)
	}
	return nil
}

// jobItem is the stored form of a job. Expiry keeps the exact expiry time;
// expires_at is the same rounded up to epoch seconds, for DynamoDB's TTL.
type jobItem struct {
	PK        string            `dynamodbav:"PK"`
	SK        string            `dynamodbav:"SK"`
	GSI1PK    string            `dynamodbav:"GSI1PK"`
	GSI1SK    string            `dynamodbav:"GSI1SK"`
	ID        string            `dynamodbav:"id"`
	Kind      string            `dynamodbav:"kind"`
	Payload   []byte            `dynamodbav:"payload,omitempty"`
	Steps     map[string]string `dynamodbav:"steps,omitempty"`
	Status    string            `dynamodbav:"status"`
	Attempts  int               `dynamodbav:"attempts"`
	Error     string            `dynamodbav:"error,omitempty"`
	ErrorRef  string            `dynamodbav:"error_ref,omitempty"`
	CreatedAt string            `dynamodbav:"created_at"`
	UpdatedAt string            `dynamodbav:"updated_at"`
	Expiry    string            `dynamodbav:"expiry,omitempty"`
	ExpiresAt int64             `dynamodbav:"expires_at,omitempty"`
	Orphaned  bool              `dynamodbav:"orphaned,omitempty"`
}

func newJobItem(j sdesk.Job) jobItem {
	it := jobItem{
		PK:        jobPK(j.ID),
		SK:        skJob,
		GSI1PK:    jobsPK(j.Status),
		GSI1SK:    j.CreatedAt.UTC().Format(sortTime) + "#" + j.ID,
		ID:        j.ID,
		Kind:      j.Kind,
		Payload:   j.Payload,
		Steps:     j.Steps,
		Status:    string(j.Status),
		Attempts:  j.Attempts,
		Error:     j.Error,
		ErrorRef:  j.ErrorRef,
		CreatedAt: formatTime(j.CreatedAt),
		UpdatedAt: formatTime(j.UpdatedAt),
		Orphaned:  j.Orphaned,
	}
	if !j.ExpiresAt.IsZero() {
		it.Expiry = formatTime(j.ExpiresAt)
		it.ExpiresAt = expiresAt(j.ExpiresAt)
	}
	return it
}

func (it jobItem) job() (sdesk.Job, error) {
	j := sdesk.Job{
		ID:       it.ID,
		Kind:     it.Kind,
		Payload:  it.Payload,
		Steps:    it.Steps,
		Status:   sdesk.JobStatus(it.Status),
		Attempts: it.Attempts,
		Error:    it.Error,
		ErrorRef: it.ErrorRef,
		Orphaned: it.Orphaned,
	}
	var err error
	if j.CreatedAt, err = parseTime(it.CreatedAt); err != nil {
		return sdesk.Job{}, err
	}
	if j.UpdatedAt, err = parseTime(it.UpdatedAt); err != nil {
		return sdesk.Job{}, err
	}
	if j.ExpiresAt, err = parseTime(it.Expiry); err != nil {
		return sdesk.Job{}, err
	}
	return j, nil
}

func expired(j sdesk.Job, now time.Time) bool {
	return !j.ExpiresAt.IsZero() && !now.Before(j.ExpiresAt)
}

// PutJob creates or replaces a job.
func (s *Store) PutJob(ctx context.Context, j sdesk.Job) error {
	if j.ID == "" {
		return errors.New("dynamo: put job: empty ID")
	}
	item, err := attributevalue.MarshalMap(newJobItem(j))
	if err != nil {
		return fmt.Errorf("dynamo: put job %q: %w", j.ID, err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item})
	if err != nil {
		return fmt.Errorf("dynamo: put job %q: %w", j.ID, err)
	}
	return nil
}

// GetJob returns a job, or sdesk.ErrNotFound if it is missing or expired.
func (s *Store) GetJob(ctx context.Context, id string) (sdesk.Job, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(jobPK(id), skJob),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return sdesk.Job{}, fmt.Errorf("dynamo: get job %q: %w", id, err)
	}
	if out.Item == nil {
		return sdesk.Job{}, fmt.Errorf("dynamo: get job %q: %w", id, sdesk.ErrNotFound)
	}
	var it jobItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return sdesk.Job{}, fmt.Errorf("dynamo: get job %q: %w", id, err)
	}
	j, err := it.job()
	if err != nil {
		return sdesk.Job{}, fmt.Errorf("dynamo: get job %q: %w", id, err)
	}
	if expired(j, s.now()) {
		return sdesk.Job{}, fmt.Errorf("dynamo: get job %q: %w", id, sdesk.ErrNotFound)
	}
	return j, nil
}

// ListJobs returns the unexpired jobs with the given status, oldest first.
// It reads GSI1, which DynamoDB updates asynchronously: a job written a
// moment ago may be missing or still listed under its old status.
func (s *Store) ListJobs(ctx context.Context, status sdesk.JobStatus) ([]sdesk.Job, error) {
	now := s.now()
	out := []sdesk.Job{}
	p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		IndexName:              aws.String(indexGSI1),
		KeyConditionExpression: aws.String("#pk = :pk"),
		// Coarse filter in whole seconds; expired() below is exact.
		FilterExpression:          aws.String("attribute_not_exists(#exp) OR #exp >= :now"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrGSI1PK, "#exp": attrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(jobsPK(status)), ":now": epochNow(now)},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("dynamo: list %s jobs: %w", status, err)
		}
		for _, item := range page.Items {
			var it jobItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return nil, fmt.Errorf("dynamo: list %s jobs: %w", status, err)
			}
			j, err := it.job()
			if err != nil {
				return nil, fmt.Errorf("dynamo: list %s jobs: %w", status, err)
			}
			if !expired(j, now) {
				out = append(out, j)
			}
		}
	}
	return out, nil
}

// notesItem is the stored form of a note's Discord messages.
type notesItem struct {
	PK         string   `dynamodbav:"PK"`
	SK         string   `dynamodbav:"SK"`
	MessageIDs []string `dynamodbav:"message_ids"`
}

// PutNoteMessages creates or replaces the message list of a note.
func (s *Store) PutNoteMessages(ctx context.Context, iid, noteID int, messageIDs []string) error {
	ids := messageIDs
	if ids == nil {
		ids = []string{}
	}
	item, err := attributevalue.MarshalMap(notesItem{PK: issuePK(iid), SK: noteSK(noteID), MessageIDs: ids})
	if err != nil {
		return fmt.Errorf("dynamo: put messages of note %d on issue %d: %w", noteID, iid, err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item})
	if err != nil {
		return fmt.Errorf("dynamo: put messages of note %d on issue %d: %w", noteID, iid, err)
	}
	return nil
}

// NoteMessages returns the message list of a note, or sdesk.ErrNotFound.
func (s *Store) NoteMessages(ctx context.Context, iid, noteID int) ([]string, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(issuePK(iid), noteSK(noteID)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("dynamo: messages of note %d on issue %d: %w", noteID, iid, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("dynamo: messages of note %d on issue %d: %w", noteID, iid, sdesk.ErrNotFound)
	}
	var it notesItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, fmt.Errorf("dynamo: messages of note %d on issue %d: %w", noteID, iid, err)
	}
	if it.MessageIDs == nil {
		it.MessageIDs = []string{}
	}
	return it.MessageIDs, nil
}
