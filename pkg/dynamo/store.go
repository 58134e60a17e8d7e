// Package dynamo implements sdesk.Store on one DynamoDB table (the Table
// resource of template.yaml).
//
// Item layout (string keys PK/SK; TTL attribute expires_at in epoch
// seconds; sparse index GSI1 on GSI1PK/GSI1SK):
//
//	issue mapping    PK=ISSUE#<iid>          SK=MAPPING
//	thread mapping   PK=THREAD#<threadID>    SK=MAPPING
//	claim            PK=CLAIM#<key>          SK=CLAIM, expires_at
//	job              PK=JOB#<id>             SK=JOB, GSI1PK=JOBS#<status>,
//	                 GSI1SK=<created, UTC, 9-digit fraction>#<id>,
//	                 expires_at when the job has an expiry
//	note messages    PK=ISSUE#<iid>          SK=NOTE#<noteID, 12 digits>
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
	"slices"
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
	indexGSI1     = "GSI1"

	skMapping = "MAPPING"
	skClaim   = "CLAIM"
	skJob     = "JOB"
)

// sortTime is RFC 3339 with a fixed nine-digit fraction, so that strings
// sort like the times they encode (RFC3339Nano trims trailing zeros and
// would put "…05Z" after "…05.1Z").
const sortTime = "2006-01-02T15:04:05.000000000Z07:00"

// Store is a sdesk.Store backed by DynamoDB.
type Store struct {
	client *dynamodb.Client
	table  string
	now    func() time.Time
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
// item both carry the full mapping).
type mappingItem struct {
	PK         string `dynamodbav:"PK"`
	SK         string `dynamodbav:"SK"`
	IssueIID   int    `dynamodbav:"iid"`
	IssueURL   string `dynamodbav:"issue_url"`
	ThreadID   string `dynamodbav:"thread_id"`
	GuildID    string `dynamodbav:"guild_id"`
	ChannelID  string `dynamodbav:"channel_id"`
	ReporterID string `dynamodbav:"reporter_id"`
	Title      string `dynamodbav:"title"`
	CreatedAt  string `dynamodbav:"created_at"`
}

func (it mappingItem) mapping() (sdesk.Mapping, error) {
	created, err := parseTime(it.CreatedAt)
	if err != nil {
		return sdesk.Mapping{}, err
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

// PutMapping writes the issue and thread items in one TransactWriteItems.
// The issue item may only be written if it is absent or already maps to the
// same thread and reporter, the thread item only if it is absent or already
// maps to the same issue; otherwise nothing is written and the error wraps
// sdesk.ErrConflict. Re-writing a mapping updates every field except
// CreatedAt, which keeps its first value.
func (s *Store) PutMapping(ctx context.Context, m sdesk.Mapping) error {
	if m.IssueIID <= 0 || m.ThreadID == "" {
		return fmt.Errorf("dynamo: put mapping: need an issue IID and a thread ID, got %d and %q", m.IssueIID, m.ThreadID)
	}
	names := map[string]string{
		"#iid": "iid", "#url": "issue_url", "#thread": "thread_id", "#guild": "guild_id",
		"#channel": "channel_id", "#reporter": "reporter_id", "#title": "title", "#created": "created_at",
	}
	values := map[string]types.AttributeValue{
		":iid":      num(int64(m.IssueIID)),
		":url":      str(m.IssueURL),
		":thread":   str(m.ThreadID),
		":guild":    str(m.GuildID),
		":channel":  str(m.ChannelID),
		":reporter": str(m.ReporterID),
		":title":    str(m.Title),
		":created":  str(formatTime(m.CreatedAt)),
	}
	const set = "SET #iid = :iid, #url = :url, #thread = :thread, #guild = :guild, #channel = :channel, " +
		"#reporter = :reporter, #title = :title, #created = if_not_exists(#created, :created)"
	update := func(pk, cond string) types.TransactWriteItem {
		n := maps.Clone(names)
		n["#pk"] = attrPK
		return types.TransactWriteItem{Update: &types.Update{
			TableName:                           aws.String(s.table),
			Key:                                 key(pk, skMapping),
			UpdateExpression:                    aws.String(set),
			ConditionExpression:                 aws.String(cond),
			ExpressionAttributeNames:            n,
			ExpressionAttributeValues:           maps.Clone(values),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}
	}
	// The order matters: conflictMessage reads the cancellation reasons by
	// position.
	items := []types.TransactWriteItem{
		update(issuePK(m.IssueIID), "attribute_not_exists(#pk) OR (#thread = :thread AND #reporter = :reporter)"),
		update(threadPK(m.ThreadID), "attribute_not_exists(#pk) OR #iid = :iid"),
	}
	_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err != nil {
		var tce *types.TransactionCanceledException
		if errors.As(err, &tce) {
			if msg := conflictMessage(m, tce.CancellationReasons); msg != "" {
				return fmt.Errorf("dynamo: put mapping: %s: %w", msg, sdesk.ErrConflict)
			}
		}
		return fmt.Errorf("dynamo: put mapping of issue %d: %w", m.IssueIID, err)
	}
	return nil
}

// conflictMessage describes the failed conditions of a cancelled PutMapping
// transaction, or returns "" when no condition failed.
func conflictMessage(m sdesk.Mapping, reasons []types.CancellationReason) string {
	var msg string
	add := func(s string) {
		if msg != "" {
			msg += "; "
		}
		msg += s
	}
	for i, r := range reasons {
		if aws.ToString(r.Code) != "ConditionalCheckFailed" {
			continue
		}
		var old mappingItem
		_ = attributevalue.UnmarshalMap(r.Item, &old)
		switch i {
		case 0:
			if old.ThreadID != m.ThreadID {
				add(fmt.Sprintf("issue %d is mapped to thread %q", m.IssueIID, old.ThreadID))
			} else {
				add(fmt.Sprintf("issue %d belongs to reporter %q", m.IssueIID, old.ReporterID))
			}
		case 1:
			add(fmt.Sprintf("thread %q is mapped to issue %d", m.ThreadID, old.IssueIID))
		}
	}
	return msg
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
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(pk, skMapping),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return sdesk.Mapping{}, err
	}
	if out.Item == nil {
		return sdesk.Mapping{}, sdesk.ErrNotFound
	}
	var it mappingItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return sdesk.Mapping{}, err
	}
	return it.mapping()
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
	// once the other commits, a retry sees its result.
	const tries = 5
	for try := 1; ; try++ {
		in.ClientRequestToken = nil // a fresh token: a retry must run again, not replay
		_, err = s.client.TransactWriteItems(ctx, in)
		if err == nil {
			return true, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) || len(tce.CancellationReasons) == 0 {
			break
		}
		if aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
			return false, nil
		}
		conflict := slices.ContainsFunc(tce.CancellationReasons, func(r types.CancellationReason) bool {
			return aws.ToString(r.Code) == "TransactionConflict"
		})
		if !conflict || try == tries {
			break
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("dynamo: claim job %q: %w", j.ID, ctx.Err())
		case <-time.After(time.Duration(try*try) * 10 * time.Millisecond):
		}
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
