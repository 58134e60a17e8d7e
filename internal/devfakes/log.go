package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// Limits of a log line, in runes: a path and a text longer are cut, with
// "…" at the cut.
const (
	maxLogPath = 120
	maxLogText = 80
)

// maxLogLine bounds a log line in bytes: a path and a text whose every
// rune is escaped (\U0010ffff: 10 bytes) with the rest of the line.
const maxLogLine = 2300

// inFlightWait is how long the log waits for the answer of a request in
// flight before it prints the request without a status, so that one lost
// answer does not stop the log.
const inFlightWait = 5 * time.Second

// requestLog prints the fakes' requests as they arrive, in order per
// fake, once each is answered.
type requestLog struct {
	out                     io.Writer
	discordNext, gitlabNext int       // requests printed so far
	discordWait, gitlabWait time.Time // when the first unanswered one was seen
}

// follow prints the requests answered since the last call, as of now.
func (lg *requestLog) follow(w *world, now time.Time) {
	for _, r := range w.Discord.RequestsSince(lg.discordNext) {
		if !lg.ready(r.Status, &lg.discordWait, now) {
			break
		}
		lg.discordNext++
		io.WriteString(lg.out, logLine("discord", r.Method, r.Path, r.Status, discordText(r.Decoded)))
	}
	for _, r := range w.GitLab.RequestsSince(lg.gitlabNext) {
		if !lg.ready(r.Status, &lg.gitlabWait, now) {
			break
		}
		lg.gitlabNext++
		io.WriteString(lg.out, logLine("gitlab", r.Method, r.Path, r.Status, gitlabText(r.Body)))
	}
}

// ready tells whether the first request not printed yet, whose answer has
// status (0: none yet), is to be printed now: once answered, or once
// waited for inFlightWait since *since, the time it was first seen
// unanswered (set here on first sight, cleared when it is printed).
func (lg *requestLog) ready(status int, since *time.Time, now time.Time) bool {
	if status == 0 {
		if since.IsZero() {
			*since = now
		}
		if now.Sub(*since) < inFlightWait {
			return false
		}
	}
	*since = time.Time{}
	return true
}

// discordText is what a Discord request sent that a reader wants to see:
// a message's content, else its first embed's description, else a
// thread's name.
func discordText(body any) string {
	m, _ := body.(map[string]any)
	if s, _ := m["content"].(string); s != "" {
		return s
	}
	if embeds, _ := m["embeds"].([]any); len(embeds) > 0 {
		if e, _ := embeds[0].(map[string]any); e != nil {
			if s, _ := e["description"].(string); s != "" {
				return s
			}
		}
	}
	if d, _ := m["data"].(map[string]any); d != nil { // an interaction callback
		if s, _ := d["content"].(string); s != "" {
			return s
		}
	}
	s, _ := m["name"].(string)
	return s
}

// gitlabText is an issue's title or a note's body from a GitLab request's
// JSON body.
func gitlabText(body []byte) string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	if s, _ := m["title"].(string); s != "" {
		return s
	}
	s, _ := m["body"].(string)
	return s
}

// logLine is one line of the request log: the service, the method, the
// path, the status ("---" when none came) and the text, if any, quoted.
// Whatever the request held, the line is valid UTF-8, ends in its only
// line break, and holds no other rune that is not graphic (unicode.
// IsGraphic: no control character, no bidirectional override), so that a
// request cannot forge log lines or drive the terminal; it is at most
// maxLogLine bytes long.
func logLine(service, method, path string, status int, text string) string {
	st := "---"
	if status != 0 {
		st = strconv.Itoa(status)
	}
	line := fmt.Sprintf("%-8s %-6s %s %s", service, shown(method, 10), shown(path, maxLogPath), st)
	if text != "" {
		line += " " + strconv.QuoteToGraphic(clip(text, maxLogText))
	}
	return line + "\n"
}

// shown is s cut to limit runes, as is when it is made of graphic runes
// without spaces, else quoted with strconv.QuoteToGraphic.
func shown(s string, limit int) string {
	s = clip(s, limit)
	plain := utf8.ValidString(s) && s != ""
	for _, r := range s {
		if r == ' ' || r == '"' || !strconv.IsGraphic(r) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return strconv.QuoteToGraphic(s)
}

// clip cuts s to limit runes (a byte of invalid UTF-8 counts as one),
// marking a cut with "…".
func clip(s string, limit int) string {
	n := 0
	for i := range s {
		if n == limit {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
