package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/sdesk/sdesk/pkg/app"
	"github.com/sdesk/sdesk/pkg/bolt"
	"github.com/sdesk/sdesk/pkg/config"
	"github.com/sdesk/sdesk/pkg/discord"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

const usage = `sdesk - GitLab Service Desk for Discord

Usage:
  sdesk serve                      run the HTTP server and the job workers
  sdesk commands sync              register the slash and message commands
  sdesk commands list              print the commands sdesk registers
  sdesk jobs list [-status S]      list jobs (pending or failed; default failed)
  sdesk jobs retry ID              run a failed or pending job again now
  sdesk panel post --channel ID    post the "Report a problem" panel in a channel
  sdesk hook PAYLOAD|-|-file F     handle one GitLab webhook delivery (adnanh/webhook; its token in SDESK_HOOK_TOKEN)
  sdesk events [-dir D] [-write]   sign the sample events for sam local invoke
  sdesk config                     print the variables sdesk reads, their values and typos, and check them
  sdesk doctor                     check the configuration against Discord, GitLab and the store

Configuration comes from environment variables and a .env file in the
working directory (the environment wins); see README.md. Admin commands
print plain text and log to standard error at warn unless SDESK_LOG_LEVEL
is set.
`

// Main is the sdesk program. Tests run it whole: set Getenv and Stdout,
// call Run with "serve", and read Addr once Ready is closed.
type Main struct {
	Stdout, Stderr io.Writer
	// Getenv reads configuration (os.Getenv by default).
	Getenv func(string) string
	// EnvFile is read by every command before the configuration ("" skips
	// it); variables already set win.
	EnvFile string
	// Stdin is what `sdesk hook -` reads (os.Stdin by default).
	Stdin io.Reader
	// Environ lists the environment as os.Environ does, for `sdesk config`
	// and doctor to warn of variables with sdesk's prefixes that sdesk
	// does not read (config.UnknownVars). Nil: no such warning (tests
	// whose Getenv is not the process environment).
	Environ func() []string

	fromFile map[string]bool // names EnvFile set

	mu    sync.Mutex
	addr  string
	ready chan struct{}
}

// NewMain returns a Main for the real process.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin, Getenv: os.Getenv, Environ: os.Environ,
		EnvFile: ".env", ready: make(chan struct{})}
}

// Ready is closed once serve listens.
func (m *Main) Ready() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ready == nil {
		m.ready = make(chan struct{})
	}
	return m.ready
}

// Addr is the address serve listens on.
func (m *Main) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addr
}

// Run runs one command line.
func (m *Main) Run(ctx context.Context, args []string) error {
	if m.Stdout == nil {
		m.Stdout = io.Discard
	}
	if m.Stderr == nil {
		m.Stderr = io.Discard
	}
	if m.Getenv == nil {
		m.Getenv = os.Getenv
	}
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return errors.New("missing command")
	}
	if m.Stdin == nil {
		m.Stdin = strings.NewReader("")
	}
	if m.EnvFile != "" && needsConfig(args) {
		set, err := config.ReadDotEnv(m.EnvFile)
		if err != nil {
			return err
		}
		m.fromFile = map[string]bool{}
		for _, k := range set {
			m.fromFile[k] = true
		}
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return m.serve(ctx, rest)
	case "commands":
		return m.commands(ctx, rest)
	case "jobs":
		return m.jobs(ctx, rest)
	case "panel":
		return m.panel(ctx, rest)
	case "hook":
		return m.hook(ctx, rest)
	case "events":
		return m.events(rest)
	case "config":
		return m.printConfig()
	case "doctor":
		return m.doctor(ctx, rest)
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	default:
		fmt.Fprint(m.Stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// needsConfig tells whether a command line reads sdesk's configuration,
// and so .env: `sdesk events`, `sdesk commands list` and help do not, and
// run even beside a .env that does not read.
func needsConfig(args []string) bool {
	switch args[0] {
	case "events", "help", "-h", "--help":
		return false
	case "commands":
		return len(args) != 2 || args[1] != "list"
	}
	return true
}

func (m *Main) load() (config.Config, error) {
	return config.Load(m.Getenv)
}

// adminLogger is the logger of the admin commands: plain text on Stderr,
// at warn unless SDESK_LOG_LEVEL is set, so that their own output (on
// Stdout) stays readable.
func (m *Main) adminLogger(cfg config.Config) *slog.Logger {
	level := slog.LevelWarn
	if strings.TrimSpace(m.Getenv("SDESK_LOG_LEVEL")) != "" {
		level = cfg.LogLevel
	}
	return slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
}

// wire loads the configuration and wires the App for role; a nil logger
// means serve's: JSON at SDESK_LOG_LEVEL.
func (m *Main) wire(ctx context.Context, role app.Role, logger func(config.Config) *slog.Logger, opts ...app.Option) (*app.App, error) {
	cfg, err := m.load()
	if err != nil {
		return nil, err
	}
	return m.wireConfig(ctx, cfg, role, logger, opts...)
}

// wireConfig is wire with a configuration already loaded: it opens the
// bbolt file itself (the Lambda bootstraps do not link bbolt).
func (m *Main) wireConfig(ctx context.Context, cfg config.Config, role app.Role, logger func(config.Config) *slog.Logger, opts ...app.Option) (*app.App, error) {
	log := app.NewLogger(m.Stderr, cfg.LogLevel)
	if logger != nil {
		log = logger(cfg)
	}
	opts = append([]app.Option{app.WithAWSConfig(awsConfig(m.Getenv, log))}, opts...)
	if cfg.Store == config.StoreBolt {
		st, err := bolt.Open(cfg.BoltPath)
		if err != nil {
			return nil, boltError(cfg.BoltPath, err)
		}
		opts = append(opts, app.WithStore(st))
	}
	return app.New(ctx, cfg, role, log, opts...)
}

// boltError says what to do about a bbolt file that does not open.
func boltError(path string, err error) error {
	switch {
	case errors.Is(err, bolt.ErrLocked):
		return fmt.Errorf("SDESK_BOLT_PATH %s is held by another process, most likely a running `sdesk serve` "+
			"(one process at a time may open a bbolt file): stop it first, or use SDESK_STORE=dynamodb "+
			"to share the state: %w", path, err)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("SDESK_BOLT_PATH %s: its directory does not exist: create it, or set SDESK_BOLT_PATH "+
			"to a file in an existing directory: %w", path, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("SDESK_BOLT_PATH %s: permission denied: run sdesk as the user that owns the file, "+
			"or set SDESK_BOLT_PATH to a file that user may write: %w", path, err)
	}
	return fmt.Errorf("open SDESK_BOLT_PATH %s: %w", path, err)
}

func (m *Main) serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := m.wire(ctx, app.Serve, nil)
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", a.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on SDESK_ADDR %s: %w", a.Config.Addr, err)
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	if err := a.Pool.Start(workCtx); err != nil {
		ln.Close()
		return fmt.Errorf("start jobs: %w", err)
	}
	srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	m.mu.Lock()
	m.addr = ln.Addr().String()
	if m.ready == nil {
		m.ready = make(chan struct{})
	}
	close(m.ready)
	m.mu.Unlock()
	a.Logger.Info("sdesk serving", slog.String("addr", m.Addr()), slog.Any("config", a.Config))

	select {
	case err := <-errc:
		stopWork()
		a.Pool.Wait()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	stopWork() // running jobs stop; unfinished ones stay pending and resume on start
	a.Pool.Wait()
	a.Logger.Info("sdesk stopped")
	return err
}

func (m *Main) commands(ctx context.Context, args []string) error {
	if len(args) != 1 || (args[0] != "sync" && args[0] != "list") {
		return errors.New("usage: sdesk commands sync|list")
	}
	if args[0] == "list" {
		for _, c := range discord.Commands {
			desc := c.Description()
			if desc == "" {
				desc = "(message menu)"
			}
			fmt.Fprintf(m.Stdout, "%-16s %s\n", c.Def.CommandName(), desc)
		}
		return nil
	}
	// Only Discord is needed: the store stays closed, so this works while
	// `sdesk serve` holds the bbolt file.
	cfg, dc, err := m.discordOnly()
	if err != nil {
		return err
	}
	if err := dc.BulkOverwriteCommands(ctx, cfg.DiscordGuildID, discord.Definitions()); err != nil {
		return fmt.Errorf("sync commands: %w", err)
	}
	where := "globally (may take up to an hour to appear)"
	if cfg.DiscordGuildID != "" {
		where = "in guild " + cfg.DiscordGuildID
	}
	fmt.Fprintf(m.Stdout, "registered %d commands %s\n", len(discord.Commands), where)
	return nil
}

func (m *Main) jobs(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: sdesk jobs list [-status pending|failed] | sdesk jobs retry ID")
	}
	switch args[0] {
	case "list":
		fs := flag.NewFlagSet("jobs list", flag.ContinueOnError)
		fs.SetOutput(m.Stderr)
		status := fs.String("status", "failed", "pending or failed")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		st := sdesk.JobStatus(*status)
		if st != sdesk.JobPending && st != sdesk.JobFailed {
			return fmt.Errorf("-status must be pending or failed, not %q", *status)
		}
		a, err := m.wire(ctx, app.Serve, m.adminLogger)
		if err != nil {
			return err
		}
		defer a.Close()
		jobs, err := a.Store.ListJobs(ctx, st)
		if err != nil {
			return fmt.Errorf("list jobs: %w", awsHint(err))
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tATTEMPTS\tREF\tUPDATED\tERROR")
		for _, j := range jobs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", j.ID, j.Kind, j.Attempts, j.ErrorRef,
				j.UpdatedAt.Format(time.RFC3339), sdesk.Truncate(j.Error, 120))
		}
		return tw.Flush()
	case "retry":
		if len(args) != 2 {
			return errors.New("usage: sdesk jobs retry ID")
		}
		a, err := m.wire(ctx, app.Serve, m.adminLogger)
		if err != nil {
			return err
		}
		defer a.Close()
		j, err := a.Store.GetJob(ctx, args[1])
		if errors.Is(err, sdesk.ErrNotFound) {
			return fmt.Errorf("no job %q (see sdesk jobs list)", args[1])
		}
		if err != nil {
			return fmt.Errorf("get job: %w", awsHint(err))
		}
		if j.Status == sdesk.JobDone {
			return fmt.Errorf("job %s is done already", j.ID)
		}
		if j.Status == sdesk.JobFailed {
			// A pending job keeps its record: it may be running elsewhere
			// (Lambda, `sdesk serve` on DynamoDB), and its lease decides.
			j.Status, j.Attempts, j.Error, j.ErrorRef = sdesk.JobPending, 0, "", ""
			if err := a.Store.PutJob(ctx, j); err != nil {
				return fmt.Errorf("reset job: %w", err)
			}
		}
		for {
			err := a.Service.RunJob(ctx, j)
			if err == nil {
				break
			}
			if errors.Is(err, sdesk.ErrJobBusy) {
				fmt.Fprintln(m.Stderr, "the job is running elsewhere; checking again in 2s")
			} else {
				fmt.Fprintln(m.Stderr, "attempt failed; retrying in 2s")
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * time.Second):
			}
		}
		if a.Service.Failed(ctx, j.ID) {
			got, _ := a.Store.GetJob(ctx, j.ID)
			return fmt.Errorf("job %s failed again (reference %s): %s", j.ID, got.ErrorRef, got.Error)
		}
		fmt.Fprintf(m.Stdout, "job %s done\n", j.ID)
		return nil
	}
	return fmt.Errorf("unknown jobs command %q", args[0])
}

// printConfig prints every variable sdesk reads: whether it is set (and
// whether .env set it) and its value, a secret's masked; then a warning
// per set variable with sdesk's prefixes that sdesk does not read; then
// checks the configuration as serve does (config.Load) and lists every
// problem, failing if there is one.
func (m *Main) printConfig() error {
	vars := append([]config.Var(nil), config.Vars...)
	sort.SliceStable(vars, func(i, j int) bool { return vars[i].Required && !vars[j].Required })
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tREQUIRED\tDEFAULT\tSET\tVALUE")
	for _, v := range vars {
		value := strings.TrimSpace(m.Getenv(v.Name))
		set, shown := "no", ""
		switch {
		case value == "":
		case m.fromFile[v.Name]:
			set = "yes (" + m.EnvFile + ")"
		default:
			set = "yes"
		}
		switch {
		case value == "":
		case v.Secret():
			shown = "(secret, not shown)"
		default:
			shown = clip(value, maxConfigValue)
		}
		req := ""
		if v.Required {
			req = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Name, req, v.Default, set, shown)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if unknown := m.unknownVars(); len(unknown) > 0 {
		fmt.Fprintln(m.Stdout)
		for _, u := range unknown {
			fmt.Fprintln(m.Stdout, "warning: "+unknownVarText(u))
		}
	}
	_, err := m.load()
	var cerr *config.Error
	if errors.As(err, &cerr) {
		fmt.Fprintf(m.Stdout, "\n%d %s:\n", len(cerr.Problems), plural(len(cerr.Problems), "problem", "problems"))
		for _, p := range cerr.Problems {
			fmt.Fprintf(m.Stdout, "  - %s\n", p)
		}
		return fmt.Errorf("the configuration is not valid (%d %s, listed above)", len(cerr.Problems), plural(len(cerr.Problems), "problem", "problems"))
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, "\nconfiguration OK (`sdesk doctor` checks it against Discord, GitLab and the store)")
	return nil
}

// maxConfigValue is the most runes of a value `sdesk config` prints.
const maxConfigValue = 80

// unknownVars are the set variables with sdesk's prefixes that no command
// reads (config.UnknownVars), when Environ is set.
func (m *Main) unknownVars() []config.UnknownVar {
	if m.Environ == nil {
		return nil
	}
	return config.UnknownVars(m.Environ(), hookVars...)
}

// unknownVarText says that a variable is not read, and which one was
// likely meant: one line, the name made printable.
func unknownVarText(u config.UnknownVar) string {
	s := printable(u.Name) + " is set, but sdesk reads no such variable"
	if u.Closest != "" {
		return s + ": did you mean " + u.Closest + "?"
	}
	return s + " (README, Configuration, lists every variable)"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// discordOnly loads the configuration and builds the Discord client alone,
// for the admin commands that need nothing else (commands sync, panel
// post): the store stays closed, so they work while `sdesk serve` holds
// the bbolt file.
func (m *Main) discordOnly() (config.Config, *discord.Client, error) {
	cfg, err := m.load()
	if err != nil {
		return config.Config{}, nil, err
	}
	dc, err := discord.NewClient(discord.ClientConfig{
		BotToken: cfg.DiscordBotToken, ApplicationID: cfg.DiscordApplicationID, APIURL: cfg.DiscordAPIURL,
		Logger: m.adminLogger(cfg),
	})
	if err != nil {
		return config.Config{}, nil, err
	}
	return cfg, dc, nil
}
