package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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
  sdesk config                     print the environment variables sdesk reads
  sdesk doctor                     check the configuration against Discord, GitLab and the store

Configuration comes from environment variables (and a .env file for serve);
see README.md.
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

	mu    sync.Mutex
	addr  string
	ready chan struct{}
}

// NewMain returns a Main for the real process.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, EnvFile: ".env", ready: make(chan struct{})}
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
	if m.EnvFile != "" {
		if err := config.ReadDotEnv(m.EnvFile); err != nil {
			return err
		}
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return m.serve(ctx, rest)
	case "commands":
		return m.commands(ctx, rest)
	case "jobs":
		return m.jobs(ctx, rest)
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

func (m *Main) load() (config.Config, error) {
	return config.Load(m.Getenv)
}

func (m *Main) wire(ctx context.Context, role app.Role) (*app.App, error) {
	cfg, err := m.load()
	if err != nil {
		return nil, err
	}
	opts := []app.Option{app.WithAWSConfig(awsConfig(m.Getenv))}
	if cfg.Store == config.StoreBolt {
		st, err := bolt.Open(cfg.BoltPath)
		if err != nil {
			return nil, fmt.Errorf("open SDESK_BOLT_PATH: %w", err)
		}
		opts = append(opts, app.WithStore(st))
	}
	return app.New(ctx, cfg, role, app.NewLogger(m.Stderr, cfg.LogLevel), opts...)
}

func (m *Main) serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := m.wire(ctx, app.Serve)
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
	cfg, err := m.load()
	if err != nil {
		return err
	}
	dc, err := discord.NewClient(discord.ClientConfig{
		BotToken: cfg.DiscordBotToken, ApplicationID: cfg.DiscordApplicationID, APIURL: cfg.DiscordAPIURL,
		Logger: app.NewLogger(m.Stderr, cfg.LogLevel),
	})
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
		a, err := m.wire(ctx, app.Serve)
		if err != nil {
			return err
		}
		defer a.Close()
		jobs, err := a.Store.ListJobs(ctx, st)
		if err != nil {
			return fmt.Errorf("list jobs: %w", err)
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
		a, err := m.wire(ctx, app.Serve)
		if err != nil {
			return err
		}
		defer a.Close()
		j, err := a.Store.GetJob(ctx, args[1])
		if errors.Is(err, sdesk.ErrNotFound) {
			return fmt.Errorf("no job %q (see sdesk jobs list)", args[1])
		}
		if err != nil {
			return fmt.Errorf("get job: %w", err)
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

func (m *Main) printConfig() error {
	vars := append([]config.Var(nil), config.Vars...)
	sort.SliceStable(vars, func(i, j int) bool { return vars[i].Required && !vars[j].Required })
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tREQUIRED\tDEFAULT\tSET")
	for _, v := range vars {
		set := "no"
		if strings.TrimSpace(m.Getenv(v.Name)) != "" {
			set = "yes"
		}
		req := ""
		if v.Required {
			req = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Name, req, v.Default, set)
	}
	return tw.Flush()
}
