package discord

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"strings"
	"unicode/utf8"

	disgo "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/snowflake/v2"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Discord's limits; lengths are counted in runes (Unicode code points).
const (
	limContent          = 2000
	limEmbeds           = 10
	limEmbedTitle       = 256
	limEmbedDescription = 4096
	limEmbedAuthor      = 256
	limEmbedFooter      = 2048
	limEmbedsTotal      = 6000 // title + description + author + footer of all embeds
	limButtons          = 25   // 5 action rows of 5
	limButtonLabel      = 80
	limCustomID         = 100
	limFiles            = 10
	limThreadName       = 100
	limMentionRoles     = 100
	limButtonsPerRow    = 5
)

// ErrLimit is matched (errors.Is) by every error about a message, thread
// name or button that Discord would refuse; nothing is sent then. The
// domain splits long text itself (see discordmd.Split).
var ErrLimit = errors.New("exceeds Discord limits")

// limitErr is permanent (sdesk.PermanentError): the same message would be
// refused again, so no retry is made; it is sdesk's own fault.
func limitErr(format string, args ...any) error {
	return sdesk.Permanent(fmt.Errorf("%w: %s", ErrLimit, fmt.Sprintf(format, args...)),
		"sdesk built a message that Discord would refuse; please report this with the log line")
}

// message is a validated sdesk.Message in disgo's shapes. body builds the
// request body anew for each attempt, files included.
type message struct {
	content  string
	embeds   []disgo.Embed
	rows     []disgo.LayoutComponent
	mentions *disgo.AllowedMentions
	files    []sdesk.File
}

// body returns a message request's body: payload as JSON, or, with files,
// a multipart/form-data body of payload_json and one files[n] part per
// file with its name and content type
// (https://discord.com/developers/docs/reference#uploading-files).
// disgo's own multipart writer sends every file as
// application/octet-stream and does not escape quotes in file names.
func (m *message) body(payload any) (any, error) {
	if len(m.files) == 0 {
		return payload, nil
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	js, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode payload_json: %w", err)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="payload_json"`)
	h.Set("Content-Type", "application/json")
	part, err := w.CreatePart(h)
	if err == nil {
		_, err = part.Write(js)
	}
	for i, f := range m.files {
		if err != nil {
			break
		}
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", multipart.FileContentDisposition(fmt.Sprintf("files[%d]", i), f.Name))
		h.Set("Content-Type", ct)
		if part, err = w.CreatePart(h); err == nil {
			_, err = part.Write(f.Data)
		}
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("build multipart body: %w", err)
	}
	return &disgo.MultipartBuffer{Buffer: &buf, ContentType: w.FormDataContentType()}, nil
}

// convert validates m against Discord's limits and converts it.
func convert(m sdesk.Message) (*message, error) {
	if n := utf8.RuneCountInString(m.Content); n > limContent {
		return nil, limitErr("content is %d runes, max %d", n, limContent)
	}
	embeds, err := convertEmbeds(m.Embeds)
	if err != nil {
		return nil, err
	}
	rows, err := convertButtons(m.Buttons)
	if err != nil {
		return nil, err
	}
	if len(m.Files) > limFiles {
		return nil, limitErr("%d files, max %d", len(m.Files), limFiles)
	}
	for i, f := range m.Files {
		if f.Name == "" {
			return nil, limitErr("file %d has no name", i)
		}
	}
	if len(m.MentionRoles) > limMentionRoles {
		return nil, limitErr("%d mention roles, max %d", len(m.MentionRoles), limMentionRoles)
	}
	roles := make([]snowflake.ID, len(m.MentionRoles))
	for i, r := range m.MentionRoles {
		id, err := parseID(r)
		if err != nil {
			return nil, limitErr("mention role %d: %v", i, err)
		}
		roles[i] = id
	}
	return &message{
		content:  m.Content,
		embeds:   embeds,
		rows:     rows,
		mentions: allowedMentions(roles),
		files:    m.Files,
	}, nil
}

// allowedMentions returns the allowed_mentions every message and every
// ephemeral answer carries: "parse":[] (nothing is parsed from the text, so
// no user, role, @everyone or @here ping), "roles": the role IDs that may be
// pinged, "users":[]
// (https://discord.com/developers/docs/resources/message#allowed-mentions-object).
// disgo sends nil slices as null, so every list is made non-nil.
func allowedMentions(roles []snowflake.ID) *disgo.AllowedMentions {
	if roles == nil {
		roles = []snowflake.ID{}
	}
	return &disgo.AllowedMentions{Parse: []disgo.AllowedMentionType{}, Roles: roles, Users: []snowflake.ID{}}
}

func convertEmbeds(in []sdesk.Embed) ([]disgo.Embed, error) {
	if len(in) > limEmbeds {
		return nil, limitErr("%d embeds, max %d", len(in), limEmbeds)
	}
	out := make([]disgo.Embed, 0, len(in))
	total := 0
	for i, e := range in {
		title := utf8.RuneCountInString(e.Title)
		desc := utf8.RuneCountInString(e.Description)
		author := utf8.RuneCountInString(e.AuthorName)
		footer := utf8.RuneCountInString(e.Footer)
		switch {
		case title > limEmbedTitle:
			return nil, limitErr("embed %d: title is %d runes, max %d", i, title, limEmbedTitle)
		case desc > limEmbedDescription:
			return nil, limitErr("embed %d: description is %d runes, max %d", i, desc, limEmbedDescription)
		case author > limEmbedAuthor:
			return nil, limitErr("embed %d: author name is %d runes, max %d", i, author, limEmbedAuthor)
		case footer > limEmbedFooter:
			return nil, limitErr("embed %d: footer is %d runes, max %d", i, footer, limEmbedFooter)
		case title+desc+author+footer == 0:
			return nil, limitErr("embed %d is empty", i)
		case e.Color < 0 || e.Color > 0xFFFFFF:
			return nil, limitErr("embed %d: color %#x is not an RGB value", i, e.Color)
		}
		// Decorations Discord would refuse are left out, never the text
		// (https://discord.com/developers/docs/resources/message#embed-object:
		// links and icons must be absolute http(s) URLs; an author's URL and
		// icon need the author's name).
		for _, u := range []*string{&e.URL, &e.AuthorURL, &e.AuthorIcon} {
			if *u != "" && !webURL(*u) {
				*u = ""
			}
		}
		if author == 0 {
			e.AuthorURL, e.AuthorIcon = "", ""
		}
		total += title + desc + author + footer
		me := disgo.Embed{
			Type:        disgo.EmbedTypeRich,
			Title:       e.Title,
			URL:         e.URL,
			Description: e.Description,
			Color:       e.Color,
		}
		if e.AuthorName != "" {
			me.Author = &disgo.EmbedAuthor{Name: e.AuthorName, URL: e.AuthorURL, IconURL: e.AuthorIcon}
		}
		if e.Footer != "" {
			me.Footer = &disgo.EmbedFooter{Text: e.Footer}
		}
		out = append(out, me)
	}
	if total > limEmbedsTotal {
		return nil, limitErr("embeds hold %d runes of text, max %d", total, limEmbedsTotal)
	}
	return out, nil
}

// webURL reports whether s is an absolute http(s) URL Discord accepts
// (at most 2048 characters, no white space or control characters).
func webURL(s string) bool {
	if len(s) > 2048 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func convertButtons(in []sdesk.Button) ([]disgo.LayoutComponent, error) {
	if len(in) > limButtons {
		return nil, limitErr("%d buttons, max %d", len(in), limButtons)
	}
	rows := make([]disgo.LayoutComponent, 0, (len(in)+limButtonsPerRow-1)/limButtonsPerRow)
	var row []disgo.InteractiveComponent
	for i, b := range in {
		label := utf8.RuneCountInString(b.Label)
		id := utf8.RuneCountInString(b.CustomID)
		switch {
		case label == 0 || label > limButtonLabel:
			return nil, limitErr("button %d: label is %d runes, want 1 to %d", i, label, limButtonLabel)
		case id == 0 || id > limCustomID:
			return nil, limitErr("button %d: custom_id is %d runes, want 1 to %d", i, id, limCustomID)
		}
		style := disgo.ButtonStyle(b.Style)
		switch style {
		case 0:
			style = disgo.ButtonStylePrimary
		case disgo.ButtonStylePrimary, disgo.ButtonStyleSecondary, disgo.ButtonStyleSuccess, disgo.ButtonStyleDanger:
		default:
			return nil, limitErr("button %d: style %d is not a custom_id button style", i, b.Style)
		}
		row = append(row, disgo.ButtonComponent{Label: b.Label, Style: style, CustomID: b.CustomID, Disabled: b.Disabled})
		if len(row) == limButtonsPerRow || i == len(in)-1 {
			rows = append(rows, disgo.ActionRowComponent{Components: row})
			row = nil
		}
	}
	return rows, nil
}

// threadName checks a thread name and cuts it to limThreadName runes.
func threadName(name string) (string, error) {
	if name == "" {
		return "", limitErr("thread name is empty")
	}
	if utf8.RuneCountInString(name) <= limThreadName {
		return name, nil
	}
	n := 0
	for i := range name {
		if n == limThreadName {
			return name[:i], nil
		}
		n++
	}
	return name, nil
}
