package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/sdesk/sdesk/internal/devkey"
)

// sendTimeout bounds one interaction sent to sdesk (Discord gives an
// endpoint 3 s; a slower answer is worth seeing, not waiting for).
const sendTimeout = 10 * time.Second

// member is the member who acts in a sent interaction: the sample
// reporter, or with staff the member with the staff role.
func member(staff bool) map[string]any {
	if staff {
		return map[string]any{
			"user":  map[string]any{"id": staffUserID, "username": "staff", "global_name": "Sam Staff", "discriminator": "0"},
			"roles": []string{staffRoleID}, "permissions": "2248473465835073",
		}
	}
	return map[string]any{
		"user":  map[string]any{"id": reporterID, "username": "reporter", "global_name": "Rita Reporter", "discriminator": "0"},
		"roles": []string{}, "permissions": "2248473465835073",
	}
}

// newSnowflake is a fresh Discord ID for an interaction: its time in the
// high bits, random low bits.
func newSnowflake(now time.Time) string {
	const discordEpoch = 1420070400000
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatUint(uint64(now.UnixMilli()-discordEpoch)<<22|binary.LittleEndian.Uint64(b[:])&(1<<22-1), 10)
}

// interaction is the JSON of an interaction of type typ
// (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object)
// in the dev world's server, sent from channel.
func interaction(now time.Time, typ int, channel string, staff bool, data any) ([]byte, error) {
	id := newSnowflake(now)
	return json.Marshal(map[string]any{
		"id": id, "application_id": appID, "type": typ, "token": "dev-token-" + id, "version": 1,
		"guild_id": guildID, "channel_id": channel, "member": member(staff), "data": data,
		"app_permissions": "2248473465835073", "locale": "en-US", "guild_locale": "en-US",
	})
}

// sendFlags are the flags report and reply share.
func sendFlags(name string, getenv func(string) string, stderr io.Writer) (*flag.FlagSet, *string, *bool) {
	fs := flag.NewFlagSet("devfakes "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	sdesk := fs.String("sdesk", envOr(getenv, envSdeskURL, defaultSdeskURL), "http://HOST:PORT where sdesk serve listens (or "+envSdeskURL+")")
	staff := fs.Bool("staff", false, "act as the member with the staff role (no limits per member) instead of the reporter")
	return fs, sdesk, staff
}

// sendReport is `devfakes report`: the /report form submitted, as Discord
// sends a modal submit of Label components (custom ID "report").
func sendReport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, sdesk, staff := sendFlags("report", getenv, stderr)
	title := fs.String("title", "Login button does nothing", "the report's title")
	desc := fs.String("description", "Clicking login has no effect.", "the report's description")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New("usage: devfakes report [-title T] [-description D] [-staff] [-sdesk URL]")
	}
	label := func(id int, child map[string]any) map[string]any {
		return map[string]any{"type": 18, "id": id, "component": child}
	}
	body, err := interaction(time.Now(), 5, channelID, *staff, map[string]any{"custom_id": "report", "components": []any{
		label(1, map[string]any{"type": 4, "id": 2, "custom_id": "title", "value": *title}),
		label(3, map[string]any{"type": 4, "id": 4, "custom_id": "description", "value": *desc}),
		label(7, map[string]any{"type": 19, "id": 8, "custom_id": "files", "values": []string{}}),
	}})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return postInteraction(ctx, *sdesk, body, stdout)
}

// sendReply is `devfakes reply`: /reply message:TEXT run in a thread.
func sendReply(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, sdesk, staff := sendFlags("reply", getenv, stderr)
	thread := fs.String("thread", "", "the report thread's ID (the fakes' log shows it: POST /channels/ID/messages)")
	text := fs.String("message", "", "the answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *text == "" || !snowflakeRe.MatchString(*thread) {
		return errors.New("usage: devfakes reply -thread ID -message TEXT [-staff] [-sdesk URL] (ID: the thread's, digits)")
	}
	body, err := interaction(time.Now(), 2, *thread, *staff, map[string]any{
		"id": "1250000000000000002", "name": "reply", "type": 1,
		"options": []any{map[string]any{"name": "message", "type": 3, "value": *text}},
	})
	if err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	return postInteraction(ctx, *sdesk, body, stdout)
}

// postInteraction signs body with the development key and posts it to
// sdesk's /interactions, as Discord does, and says what sdesk answered.
func postInteraction(ctx context.Context, sdeskURL string, body []byte, out io.Writer) error {
	addr, err := sdeskAddr(sdeskURL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	url := "http://" + addr + "/interactions"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post to sdesk: %w", err)
	}
	sig, ts := devkey.Sign(devkey.Key, body, time.Now())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Discord-Interactions/1.0 (+https://discord.com)")
	req.Header.Set("X-Signature-Ed25519", sig)
	req.Header.Set("X-Signature-Timestamp", ts)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("post to sdesk at %s (is `make run` running?): %w", url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read sdesk's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("sdesk answered %s: %s", resp.Status, strconv.QuoteToGraphic(clip(string(raw), 200)))
	}
	var ans struct {
		Type int `json:"type"`
		Data struct {
			Content string `json:"content"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return fmt.Errorf("sdesk's answer is not JSON: %s", strconv.QuoteToGraphic(clip(string(raw), 200)))
	}
	switch ans.Type {
	case 5:
		fmt.Fprintln(out, "sdesk answered: deferred (type 5), it works on it now; its answer and what it does appear in the fakes' log")
	case 4:
		fmt.Fprintf(out, "sdesk answered (type 4): %s\n", strconv.QuoteToGraphic(clip(ans.Data.Content, 500)))
	default:
		fmt.Fprintf(out, "sdesk answered with type %d: %s\n", ans.Type, strconv.QuoteToGraphic(clip(string(raw), 500)))
	}
	return nil
}

// snowflakeRe is a Discord ID.
var snowflakeRe = regexp.MustCompile(`^[0-9]{1,20}$`)
