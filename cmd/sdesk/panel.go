package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/sdesk/sdesk/pkg/discord"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

const panelUsage = "usage: sdesk panel post --channel ID"

// panel runs `sdesk panel post --channel ID`: it posts the report panel
// (sdesk.Panel: a message with a "Report a problem" button) into a
// channel, as /panel does. Only Discord is needed, so it works while
// `sdesk serve` holds the bbolt file. The button is routed by its custom
// ID: it keeps working after restarts and redeploys.
func (m *Main) panel(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "post" {
		return errors.New(panelUsage)
	}
	fs := flag.NewFlagSet("panel post", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	channel := fs.String("channel", "", "ID of the text channel to post the panel in")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 || *channel == "" {
		return errors.New(panelUsage)
	}
	if !isSnowflake(*channel) {
		return fmt.Errorf("--channel must be a channel ID (a number; in Discord: right-click the channel, Copy Channel ID), got %q", *channel)
	}
	_, dc, err := m.discordOnly()
	if err != nil {
		return err
	}
	id, err := dc.SendMessage(ctx, *channel, sdesk.Panel())
	var perm *sdesk.PermanentError
	switch {
	case errors.As(err, &perm) && discord.APICode(err) == 10003:
		return fmt.Errorf("channel %s does not exist, or the bot is not in its server: check --channel (right-click the channel, Copy Channel ID)", *channel)
	case errors.As(err, &perm):
		return fmt.Errorf("the report panel was not posted in channel %s: give the bot View Channel and Send Messages there (Discord refused: %s)", *channel, perm.Why)
	case err != nil:
		return fmt.Errorf("post the report panel in channel %s: %w", *channel, err)
	}
	fmt.Fprintf(m.Stdout, "posted the report panel in channel %s (message %s)\n", *channel, id)
	return nil
}

// isSnowflake reports whether s looks like a Discord ID: 1 to 20 digits.
func isSnowflake(s string) bool {
	if len(s) == 0 || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
