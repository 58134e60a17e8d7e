// Package app wires sdesk's adapters from a config.Config, so that every
// main (the two Lambda functions and `sdesk serve`) stays short.
package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	awslambdago "github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/sdesk/sdesk/pkg/awsenv"
	"github.com/sdesk/sdesk/pkg/awslambda"
	"github.com/sdesk/sdesk/pkg/config"
	"github.com/sdesk/sdesk/pkg/discord"
	"github.com/sdesk/sdesk/pkg/dynamo"
	"github.com/sdesk/sdesk/pkg/gitlab"
	"github.com/sdesk/sdesk/pkg/httpapi"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Role says which endpoints a process serves and how it runs jobs.
type Role int

// Roles.
const (
	// Serve: `sdesk serve`, every endpoint, jobs in an in-process pool.
	Serve Role = iota
	// LambdaInteractions: /interactions, and the jobs sent to itself.
	LambdaInteractions
	// LambdaWebhook: /gitlab; deferred work goes to the jobs function.
	LambdaWebhook
)

// App is a wired sdesk.
type App struct {
	Config  config.Config
	Logger  *slog.Logger
	Store   sdesk.Store
	Discord *discord.Client
	GitLab  *gitlab.Client
	Service *sdesk.Service
	Router  *discord.Router
	Handler http.Handler
	// Pool runs jobs in `sdesk serve`; nil in Lambda.
	Pool *sdesk.Pool

	closers []io.Closer
}

// NewLogger returns the JSON logger every process uses.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// Option changes how New wires an App (tests).
type Option func(*options)

type options struct {
	now        func() time.Time
	httpClient *http.Client
	tune       func(*App)
	aws        func(context.Context) (aws.Config, error)
	store      sdesk.Store
}

// WithStore uses st instead of opening the configured store; App.Close
// closes it if it is an io.Closer.
func WithStore(st sdesk.Store) Option { return func(o *options) { o.store = st } }

// WithAWSConfig sets how the AWS configuration is loaded. The default reads
// the environment alone (awsenv), as in Lambda; `sdesk serve` passes the
// SDK's full default chain (profiles, SSO, instance roles).
func WithAWSConfig(load func(context.Context) (aws.Config, error)) Option {
	return func(o *options) { o.aws = load }
}

// WithTuning changes the wired App before New returns it, e.g. a test's
// shorter event budget or job backoff.
func WithTuning(f func(*App)) Option { return func(o *options) { o.tune = f } }

// WithClock sets the clock the HTTP handler checks signatures against.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithHTTPClient sets the client for Discord and GitLab calls.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// New wires an App for role.
func New(ctx context.Context, cfg config.Config, role Role, logger *slog.Logger, opts ...Option) (*App, error) {
	o := options{
		httpClient: &http.Client{Timeout: 20 * time.Second},
		aws:        func(context.Context) (aws.Config, error) { return awsenv.Config(), nil },
	}
	for _, opt := range opts {
		opt(&o)
	}
	a := &App{Config: cfg, Logger: logger}
	switch {
	case o.store != nil:
		a.Store = o.store
		if c, ok := o.store.(io.Closer); ok {
			a.closers = append(a.closers, c)
		}
	case cfg.Store == config.StoreBolt:
		// Lambda binaries do not link bbolt: `sdesk serve` opens the file
		// and passes it with WithStore.
		return nil, fmt.Errorf("the bolt store runs in sdesk serve only (SDESK_STORE=dynamodb in Lambda)")
	case cfg.Store == config.StoreDynamoDB:
		awsCfg, err := o.aws(ctx)
		if err != nil {
			return nil, fmt.Errorf("aws config: %w", err)
		}
		a.Store = dynamo.New(dynamo.NewClient(awsCfg, cfg.DynamoDB), cfg.Table)
	default:
		return nil, fmt.Errorf("unknown store %q", cfg.Store)
	}

	httpClient := o.httpClient
	var err error
	a.Discord, err = discord.NewClient(discord.ClientConfig{
		BotToken: cfg.DiscordBotToken, ApplicationID: cfg.DiscordApplicationID,
		APIURL: cfg.DiscordAPIURL, HTTPClient: httpClient, Logger: logger,
	})
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("discord client: %w", err)
	}
	a.GitLab, err = gitlab.NewClient(gitlab.ClientConfig{
		BaseURL: cfg.GitLabURL, Token: cfg.GitLabToken, Project: cfg.GitLabProject,
		HTTPClient: httpClient, Logger: logger,
	})
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("gitlab client: %w", err)
	}

	a.Service = &sdesk.Service{
		Store: a.Store, Discord: a.Discord, GitLab: a.GitLab, Logger: logger,
		SupportChannelID: cfg.DiscordSupportChannelID, StaffRoleID: cfg.DiscordStaffRoleID,
		IssueLabels: cfg.GitLabIssueLabels, LockOnClose: cfg.LockOnClose,
		GitLabURL: cfg.GitLabURL, MaxMessagesPerEvent: cfg.MaxMessagesPerEvent,
		SupportBotID: cfg.GitLabSupportBotID,
		Categories:   cfg.Categories, MaxAttachmentBytes: cfg.MaxAttachmentBytes,
		MaxOpenReports: cfg.MaxOpenReports, ReportCooldown: cfg.ReportCooldown, ReopenOnReply: cfg.ReopenOnReply,
	}
	switch role {
	case Serve:
		a.Pool = &sdesk.Pool{Run: a.Service.RunJob, Store: a.Store, Logger: logger}
		a.Service.Queue = a.Pool
	default:
		if cfg.JobFunction == "" {
			a.Close()
			return nil, fmt.Errorf("SDESK_JOB_FUNCTION is required in Lambda")
		}
		awsCfg, err := o.aws(ctx)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("aws config: %w", err)
		}
		a.Service.Queue = &awslambda.Queue{Client: awslambda.NewClient(awsCfg, awsenv.Endpoint("LAMBDA")), Function: cfg.JobFunction}
	}
	if cfg.Store == config.StoreDynamoDB {
		// A table is shared: Lambda may deliver an async event twice, and
		// `sdesk serve` or `sdesk jobs retry` may run beside Lambda or each
		// other. Runs of one job must not overlap. The lease outlives the
		// longest attempt (template.yaml: Timeout 120). A bbolt file has one
		// process at a time (its file lock), so it needs none.
		a.Service.LeaseTTL = 3 * time.Minute
	}

	hc := httpapi.Config{PublicKey: cfg.DiscordPublicKey, Logger: logger, Now: o.now,
		WebhookSecret: cfg.GitLabWebhookSecret, SigningToken: cfg.GitLabWebhookSigningToken, Project: cfg.GitLabProject,
		ProjectID: a.GitLab.ProjectID}
	if role != LambdaWebhook {
		a.Router = &discord.Router{Service: a.Service, Logger: logger}
		hc.Router = a.Router
	}
	if role != LambdaInteractions {
		hc.Service = a.Service
	}
	if o.tune != nil {
		o.tune(a)
	}
	a.Handler = httpapi.New(hc)
	return a, nil
}

// LambdaHandler is the entry point of a Lambda function of this App: the
// interactions function runs jobs, the webhook function does not.
func (a *App) LambdaHandler() func(ctx context.Context, payload json.RawMessage) (any, error) {
	if a.Router == nil {
		return awslambda.Handler(a.Handler, nil)
	}
	return awslambda.Handler(a.Handler, a.Service)
}

// Close releases the store.
func (a *App) Close() error {
	var first error
	for _, c := range a.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	a.closers = nil
	return first
}

// LambdaMain is the whole main of a Lambda function: load the
// configuration, wire, start. A bad configuration ends the process with one
// log line naming every problem.
func LambdaMain(role Role) {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		NewLogger(os.Stderr, slog.LevelInfo).Error("bad configuration", slog.String("error", err.Error()))
		os.Exit(1)
	}
	logger := NewLogger(os.Stderr, cfg.LogLevel)
	a, err := New(context.Background(), cfg, role, logger)
	if err != nil {
		logger.Error("start", slog.String("error", err.Error()))
		os.Exit(1)
	}
	awslambdago.Start(a.LambdaHandler())
}
