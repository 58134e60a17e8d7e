// Command devfakes runs the Discord and GitLab fakes of the tests
// (pkg/discord/discordfake, pkg/gitlab/gitlabfake) as one process, set up
// as a working installation, so that sdesk can be tried end to end
// without Discord or GitLab (README, "Try it locally with fake Discord and
// GitLab"; `make fakes`):
//
//	go run ./internal/devfakes [-discord ADDR] [-gitlab ADDR] [-sdesk URL] [-env FILE] [-all-interfaces]
//	go run ./internal/devfakes report [-sdesk URL] [-title T] [-description D] [-staff]
//	go run ./internal/devfakes reply -thread ID -message TEXT [-sdesk URL] [-staff]
//
// The first form starts the fakes, writes sdesk's configuration for them
// into FILE (.env.fakes), prints what to do next, and then one line per
// request sdesk sends them, until interrupted; -all-interfaces (or
// DEVFAKES_ALL_INTERFACES=1) has them listen on every interface, for sam
// local's containers (events/env.json). report and reply send
// sdesk serve a signed interaction, as Discord does when a member submits
// the /report form or runs /reply in a report thread.
//
// It is a development tool, not linked into sdesk: its keys and tokens are
// public (the interactions are signed with internal/devkey).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "devfakes:", err)
		}
		stop()
		os.Exit(2)
	}
}

// run runs one command line: report, reply, or (any other first argument,
// or none) the fakes until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "report":
			return sendReport(ctx, args[1:], getenv, stdout, stderr)
		case "reply":
			return sendReply(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	return serveFakes(ctx, args, getenv, stdout, stderr)
}

// envOr is the variable name's value, or def when it is empty.
func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}
