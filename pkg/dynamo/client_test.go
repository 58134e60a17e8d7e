package dynamo_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
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

// isolate hides every AWS setting of the machine from the SDK.
func isolate(t *testing.T) {
	dir := t.TempDir()
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
		"AWS_ENDPOINT_URL_DYNAMODB", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		endpoint   string
		wantRegion string
		wantKeyID  string // "" : retrieving credentials must fail
		wantBase   string
	}{
		{
			name:       "endpoint on a fresh machine",
			endpoint:   "http://127.0.0.1:8000",
			wantRegion: "us-east-1",
			wantKeyID:  "local",
			wantBase:   "http://127.0.0.1:8000",
		},
		{
			name:       "endpoint with configured credentials and region",
			env:        map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "eu-west-1"},
			endpoint:   "http://127.0.0.1:8000",
			wantRegion: "eu-west-1",
			wantKeyID:  "AKIDEXAMPLE",
			wantBase:   "http://127.0.0.1:8000",
		},
		{
			name:       "no endpoint: standard configuration",
			env:        map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "eu-west-1"},
			wantRegion: "eu-west-1",
			wantKeyID:  "AKIDEXAMPLE",
		},
		{
			name:       "no endpoint: AWS_ENDPOINT_URL_DYNAMODB is honoured",
			env:        map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_DYNAMODB": "http://localhost:4566"},
			wantRegion: "eu-west-1",
			wantKeyID:  "AKIDEXAMPLE",
			wantBase:   "http://localhost:4566",
		},
		{
			name: "no endpoint and no credentials: no dummy credentials",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			client := dynamo.NewClient(awsenv.Config(), tt.endpoint)
			o := client.Options()
			if o.Region != tt.wantRegion {
				t.Errorf("region: got %q, want %q", o.Region, tt.wantRegion)
			}
			if got := aws.ToString(o.BaseEndpoint); got != tt.wantBase {
				t.Errorf("base endpoint: got %q, want %q", got, tt.wantBase)
			}
			if tt.wantKeyID == "" {
				if o.Credentials != nil {
					creds, err := o.Credentials.Retrieve(t.Context())
					if err == nil {
						t.Errorf("credentials: got %q, want none", creds.AccessKeyID)
					}
				}
				return
			}
			creds, err := o.Credentials.Retrieve(t.Context())
			if tt.wantKeyID == "" {
				if err == nil {
					t.Errorf("credentials: got %q, want an error", creds.AccessKeyID)
				}
				return
			}
			if err != nil {
				t.Fatalf("credentials: got error %v, want nil", err)
			}
			if creds.AccessKeyID != tt.wantKeyID {
				t.Errorf("credentials: got key %q, want %q", creds.AccessKeyID, tt.wantKeyID)
			}
		})
	}
}

// A call on a table that does not exist fails with an error that names
// the table, where it was looked for, SDESK_TABLE and the fix, and still
// wraps the SDK's ResourceNotFoundException; other errors pass unchanged.
func TestNewClientMissingTable(t *testing.T) {
	isolate(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		if r.Header.Get("X-Amz-Target") == "DynamoDB_20120810.GetItem" {
			fmt.Fprint(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}`)
			return
		}
		fmt.Fprint(w, `{"__type":"com.amazon.coral.validate#ValidationException","message":"bad request"}`)
	}))
	defer srv.Close()
	client := dynamo.NewClient(awsenv.Config(), srv.URL)
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "x"}, "SK": &types.AttributeValueMemberS{Value: "y"}}

	_, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String("sdesk-missing"), Key: key})
	var nf *types.ResourceNotFoundException
	if !errors.Is(err, dynamo.ErrNoTable) || !errors.As(err, &nf) {
		t.Fatalf("GetItem on a missing table: got %v, want ErrNoTable wrapping ResourceNotFoundException", err)
	}
	for _, want := range []string{`"sdesk-missing"`, srv.URL, "SDESK_TABLE", "make local", "sam deploy"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("GetItem on a missing table: got %q, want it to contain %q", err, want)
		}
	}

	_, err = client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String("sdesk-missing"), Item: key})
	if err == nil || errors.Is(err, dynamo.ErrNoTable) {
		t.Errorf("PutItem refused for another reason: got %v, want an error that is not ErrNoTable", err)
	}
}

// The same against DynamoDB Local, for each kind of call the store makes.
func TestNewClientMissingTableLocal(t *testing.T) {
	client := dynamo.NewClient(awsenv.Config(), dynamotest.Endpoint(t))
	st := dynamo.New(client, "sdesk-no-such-table")
	_, err := st.GetJob(t.Context(), "1")
	if !errors.Is(err, dynamo.ErrNoTable) || !strings.Contains(err.Error(), `"sdesk-no-such-table"`) {
		t.Errorf("GetJob: got %v, want ErrNoTable naming the table", err)
	}
	_, err = st.ClaimJob(t.Context(), "event:x", time.Minute, sdesk.Job{ID: "gitlab:x", Kind: sdesk.JobGitLabEvent, Status: sdesk.JobPending, CreatedAt: time.Now(), UpdatedAt: time.Now()})
	if !errors.Is(err, dynamo.ErrNoTable) {
		t.Errorf("ClaimJob (TransactWriteItems): got %v, want ErrNoTable", err)
	}
	_, err = st.ListJobs(t.Context(), sdesk.JobPending)
	if !errors.Is(err, dynamo.ErrNoTable) {
		t.Errorf("ListJobs (Query): got %v, want ErrNoTable", err)
	}
}
