package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	disgo "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/omit"
	"github.com/disgoorg/snowflake/v2"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Command is one application command: its definition, as `sdesk commands
// sync` registers it, and its handler, as the router runs it. Commands is
// the single registry that feeds both.
type Command struct {
	Def    disgo.ApplicationCommandCreate
	Handle func(ctx context.Context, r *Router, i *Interaction) Response
	// Autocomplete answers the autocomplete of the command's options
	// (interaction type 4); nil for a command without one.
	Autocomplete func(ctx context.Context, r *Router, i *Interaction, data disgo.AutocompleteInteractionData) Response
}

// Description is the command's description, "" for a message menu command
// (which has none).
func (c Command) Description() string {
	if s, ok := c.Def.(disgo.SlashCommandCreate); ok {
		return s.Description
	}
	return ""
}

var guildOnly = []disgo.InteractionContextType{disgo.InteractionContextTypeGuild}

var maxReply = sdesk.MaxReply

// Custom IDs of the report form's inputs.
const (
	fieldTitle       = "title"
	fieldDescription = "description"
	fieldCategory    = "category"
	fieldFiles       = "files"
)

// maxSelectOptions is the most options a String Select takes
// (https://discord.com/developers/docs/components/reference#string-select).
const maxSelectOptions = 25

// Commands is the command registry.
var Commands = []Command{
	{
		Def: disgo.SlashCommandCreate{
			Name:        "report",
			Description: "Report a problem to the team (opens a private thread)",
			Contexts:    guildOnly,
		},
		Handle: func(ctx context.Context, r *Router, i *Interaction) Response { return r.reportForm(ctx, i) },
	},
	{
		Def: disgo.SlashCommandCreate{
			Name:        "reply",
			Description: "Send an answer to the GitLab issue of this thread",
			Contexts:    guildOnly,
			Options:     replyOptions(),
		},
		Handle: func(ctx context.Context, r *Router, i *Interaction) Response {
			req := threadRequest(i, 0)
			if data, ok := commandData(i).(disgo.SlashCommandInteractionData); ok {
				if o, ok := data.Options["message"]; ok && o.Type == disgo.ApplicationCommandOptionTypeString {
					_ = json.Unmarshal(o.Value, &req.Text) // not a string: empty, refused as such
				}
				req.Files = r.optionFiles(i, data)
			}
			a, err := r.Service.SubmitReply(ctx, req)
			return r.answer(ctx, i, a, err, false)
		},
	},
	{
		Def: disgo.SlashCommandCreate{
			Name:        "close",
			Description: "Close the GitLab issue of this thread, or the one you choose",
			Contexts:    guildOnly,
			Options: []disgo.ApplicationCommandOption{
				disgo.ApplicationCommandOptionString{Name: "reason", Description: "Why: sent to the issue as a note", MaxLength: &maxReason},
				issueOption("The issue to close (default: this thread's)"),
			},
		},
		Handle: func(ctx context.Context, r *Router, i *Interaction) Response {
			req := issueRequest(i)
			req.Reason = optionString(i, "reason")
			a, err := r.Service.SubmitClose(ctx, req)
			return r.answer(ctx, i, a, err, true)
		},
		Autocomplete: suggestIssues("close"),
	},
	{
		Def: disgo.SlashCommandCreate{
			Name:        "reopen",
			Description: "Reopen the GitLab issue of this thread, or the one you choose, and its thread",
			Contexts:    guildOnly,
			Options:     []disgo.ApplicationCommandOption{issueOption("The issue to reopen (default: this thread's)")},
		},
		Handle: func(ctx context.Context, r *Router, i *Interaction) Response {
			a, err := r.Service.SubmitReopen(ctx, issueRequest(i))
			return r.answer(ctx, i, a, err, true)
		},
		Autocomplete: suggestIssues("reopen"),
	},
	{
		Def: disgo.SlashCommandCreate{
			Name:        "status",
			Description: "Where the GitLab issue of this thread, or the one you choose, stands",
			Contexts:    guildOnly,
			Options:     []disgo.ApplicationCommandOption{issueOption("The issue (default: this thread's)")},
		},
		Handle: func(ctx context.Context, r *Router, i *Interaction) Response {
			a, err := r.Service.SubmitStatus(ctx, issueRequest(i))
			return r.answer(ctx, i, a, err, true)
		},
		Autocomplete: suggestIssues("status"),
	},
	{
		Def: disgo.SlashCommandCreate{
			Name:        "issues",
			Description: "List your reports, newest first",
			Contexts:    guildOnly,
			Options: []disgo.ApplicationCommandOption{
				disgo.ApplicationCommandOptionBool{Name: "all", Description: "Staff: every open report instead of yours"},
			},
		},
		Handle: func(ctx context.Context, r *Router, i *Interaction) Response {
			a, err := r.Service.Reports(ctx, sdesk.ReportsRequest{User: i.User, All: optionBool(i, "all")})
			return r.answer(ctx, i, a, err, true)
		},
	},
	{
		Def: disgo.SlashCommandCreate{
			Name:        "panel",
			Description: "Post a message with a \"Report a problem\" button in this channel",
			Contexts:    guildOnly,
			// Manage Server by default; server admins may give it to
			// others in Server Settings > Integrations
			// (https://discord.com/developers/docs/interactions/application-commands#permissions).
			DefaultMemberPermissions: omit.NewPtr(disgo.PermissionManageGuild),
		},
		Handle: func(ctx context.Context, r *Router, i *Interaction) Response {
			a, err := r.Service.SubmitPanel(ctx, sdesk.PanelRequest{InteractionID: i.ID, Token: i.Token, ChannelID: i.ChannelID})
			return r.answer(ctx, i, a, err, true)
		},
	},
	{
		Def: disgo.MessageCommandCreate{
			Name:     "Send to GitLab",
			Contexts: guildOnly,
		},
		Handle: func(ctx context.Context, r *Router, i *Interaction) Response {
			req := threadRequest(i, 0)
			// A message command carries its target message whole in
			// data.resolved.messages
			// (https://discord.com/developers/docs/interactions/application-commands#message-commands).
			if data, ok := commandData(i).(disgo.MessageCommandInteractionData); ok {
				if m, ok := data.Resolved.Messages[data.TargetID()]; ok {
					sentMessage(&req, m)
					req.Names = names(i, &m)
				}
			}
			a, err := r.Service.SubmitReply(ctx, req)
			return r.answer(ctx, i, a, err, true)
		},
	},
}

// commandData is an application command's data, nil for other
// interactions.
func commandData(i *Interaction) disgo.ApplicationCommandInteractionData {
	if c, ok := i.Raw.(disgo.ApplicationCommandInteraction); ok {
		return c.Data
	}
	return nil
}

// Definitions returns the commands to register with Discord.
func Definitions() []disgo.ApplicationCommandCreate {
	defs := make([]disgo.ApplicationCommandCreate, len(Commands))
	for i, c := range Commands {
		defs[i] = c.Def
	}
	return defs
}

// reportFields are the /report form's inputs, each in a Label (type 18),
// in this order (https://discord.com/developers/docs/components/reference):
//   - Title: Text Input (type 4), short, required, at most sdesk.MaxTitle;
//   - Description: Text Input, paragraph, required, at most
//     sdesk.MaxDescription (Text Input takes at most 4000);
//   - Category: String Select (type 3; in a modal it must sit in a Label),
//     one required choice (min_values and max_values default to 1,
//     "required" to true), one option per category (label = its Label,
//     value = its GitLab label; option label and value at most 100
//     characters, at most 25 options); left out when there are none;
//   - Screenshots or logs: File Upload (type 19; only in a Label), optional:
//     "required": false with min_values 0 (min_values must be omitted or
//     at least 1 while required is true), max_values sdesk.MaxReportFiles
//     (Discord allows 10).
//
// A modal holds at most 5 top-level components: here 3 or 4.
func reportFields(categories []sdesk.Category) []disgo.LayoutComponent {
	fields := []disgo.LayoutComponent{
		TextField(fieldTitle, "Title", "What went wrong, in a few words", disgo.TextInputStyleShort, sdesk.MaxTitle),
		TextField(fieldDescription, "Description", "What happened, what you expected, steps to reproduce", disgo.TextInputStyleParagraph, sdesk.MaxDescription),
	}
	if len(categories) > 0 {
		opts := make([]disgo.StringSelectMenuOption, 0, min(len(categories), maxSelectOptions))
		for _, c := range categories[:min(len(categories), maxSelectOptions)] {
			opts = append(opts, disgo.StringSelectMenuOption{Label: c.Label, Value: c.GitLabLabel})
		}
		fields = append(fields, disgo.LabelComponent{Label: "Category", Component: modalSelect{disgo.StringSelectMenuComponent{
			CustomID: fieldCategory, Placeholder: "Choose what the problem is about", Options: opts, Required: true,
		}}})
	}
	return append(fields, filesField())
}

// filesField is the optional file field of the report and reply forms: a
// File Upload (type 19; only in a Label) with "required": false and
// min_values 0 (min_values must be omitted or at least 1 while required
// is true), max_values sdesk.MaxReportFiles (Discord allows 10)
// (https://discord.com/developers/docs/components/reference#file-upload).
// Its files come in the submit's data.resolved.attachments (form).
func filesField() disgo.LabelComponent {
	zero := 0
	return disgo.LabelComponent{
		Label:       "Screenshots or logs",
		Description: fmt.Sprintf("Optional: up to %d files", sdesk.MaxReportFiles),
		Component: disgo.FileUploadComponent{
			CustomID: fieldFiles, MinValues: &zero, MaxValues: sdesk.MaxReportFiles, Required: false,
		},
	}
}

// reportForm opens the report form (/report, the panel's button), unless
// the member may not report now (CheckReport).
func (r *Router) reportForm(ctx context.Context, i *Interaction) Response {
	if err := r.Service.CheckReport(ctx, i.User); err != nil {
		return r.answer(ctx, i, sdesk.Answer{}, err, true)
	}
	return Modal(sdesk.RouteReportModal, "Report a problem", reportFields(r.Service.Categories)...)
}

// component and modal routes, matched like paths (see match); n is the
// route's number ({iid} or {page}), 0 for a route without one.
var components = []struct {
	route  string
	handle func(ctx context.Context, r *Router, i *Interaction, n int) Response
}{
	{sdesk.RoutePanelReport, func(ctx context.Context, r *Router, i *Interaction, _ int) Response {
		return r.reportForm(ctx, i)
	}},
	{sdesk.RouteReports, func(ctx context.Context, r *Router, i *Interaction, page int) Response {
		a, err := r.Service.Reports(ctx, sdesk.ReportsRequest{User: i.User, Page: page})
		return r.page(ctx, i, a, err)
	}},
	{sdesk.RouteAllReports, func(ctx context.Context, r *Router, i *Interaction, page int) Response {
		a, err := r.Service.Reports(ctx, sdesk.ReportsRequest{User: i.User, All: true, Page: page})
		return r.page(ctx, i, a, err)
	}},
	{sdesk.RouteReply, func(ctx context.Context, r *Router, i *Interaction, iid int) Response {
		if _, err := r.Service.CheckReply(ctx, threadRequest(i, iid)); err != nil {
			return r.answer(ctx, i, sdesk.Answer{}, err, true)
		}
		return Modal(sdesk.Route(sdesk.RouteReplyModal, iid), "Reply on GitLab",
			TextField("message", "Your answer", "", disgo.TextInputStyleParagraph, sdesk.MaxReply), filesField())
	}},
	{sdesk.RouteClose, func(ctx context.Context, r *Router, i *Interaction, iid int) Response {
		a, err := r.Service.SubmitClose(ctx, threadRequest(i, iid))
		return r.answer(ctx, i, a, err, true)
	}},
}

var modals = []struct {
	route  string
	handle func(ctx context.Context, r *Router, i *Interaction, iid int, f form) Response
}{
	{sdesk.RouteReportModal, func(ctx context.Context, r *Router, i *Interaction, _ int, f form) Response {
		if !f.present[fieldTitle] || !f.present[fieldDescription] {
			// Not a form sdesk built: every version of it has both.
			r.log().Warn("report submit without a title or description field", slog.String("interaction_id", i.ID))
			return Ephemeral(sdesk.MsgUnsupported)
		}
		req := sdesk.ReportRequest{
			InteractionID: i.ID, Token: i.Token, GuildID: i.GuildID, User: i.User,
			Title: f.text[fieldTitle], Description: f.text[fieldDescription],
			Files: f.files[fieldFiles],
		}
		if v := f.values[fieldCategory]; len(v) > 0 {
			req.Category = v[0]
		}
		err := r.Service.SubmitReport(ctx, req)
		return r.answer(ctx, i, sdesk.Answer{Deferred: true}, err, true)
	}},
	{sdesk.RouteReplyModal, func(ctx context.Context, r *Router, i *Interaction, iid int, f form) Response {
		req := threadRequest(i, iid)
		req.Text = f.text["message"]
		req.Files = f.files[fieldFiles]
		if n := len(req.Files); n > sdesk.MaxReportFiles {
			// Not a form sdesk built: its File Upload takes at most that many.
			return Ephemeral(fmt.Sprintf("Your reply was not sent: it has %d files (at most %d).", n, sdesk.MaxReportFiles))
		}
		a, err := r.Service.SubmitReply(ctx, req)
		return r.answer(ctx, i, a, err, false)
	}},
}

// maxReason is /close's reason option's max_length.
var maxReason = sdesk.MaxReason

// issueOption is the `issue` option of /close, /reopen and /status: an
// INTEGER (type 4) of at least 1 whose choices come from autocomplete
// (https://discord.com/developers/docs/interactions/application-commands#autocomplete).
func issueOption(description string) disgo.ApplicationCommandOptionInt {
	one := 1
	return disgo.ApplicationCommandOptionInt{Name: "issue", Description: description, Autocomplete: true, MinValue: &one}
}

// issueRequest is threadRequest with the issue the `issue` option names.
func issueRequest(i *Interaction) sdesk.ThreadRequest {
	req := threadRequest(i, 0)
	if data, ok := commandData(i).(disgo.SlashCommandInteractionData); ok {
		if o, ok := data.Options["issue"]; ok && o.Type == disgo.ApplicationCommandOptionTypeInt {
			var n int
			if json.Unmarshal(o.Value, &n) == nil && n > 0 {
				req.Issue = n
			}
		}
	}
	return req
}

// optionString is a slash command's string option, "" when absent.
func optionString(i *Interaction, name string) string {
	var v string
	if data, ok := commandData(i).(disgo.SlashCommandInteractionData); ok {
		if o, ok := data.Options[name]; ok && o.Type == disgo.ApplicationCommandOptionTypeString {
			_ = json.Unmarshal(o.Value, &v)
		}
	}
	return v
}

// optionBool is a slash command's boolean option, false when absent.
func optionBool(i *Interaction, name string) bool {
	var v bool
	if data, ok := commandData(i).(disgo.SlashCommandInteractionData); ok {
		if o, ok := data.Options[name]; ok && o.Type == disgo.ApplicationCommandOptionTypeBool {
			_ = json.Unmarshal(o.Value, &v)
		}
	}
	return v
}

// suggestIssues answers the autocomplete of the `issue` option of
// command (sdesk.Service.SuggestIssues). The focused value is what the
// user has typed so far: Discord sends it as a string, or as a number
// once it is one
// (https://discord.com/developers/docs/interactions/application-commands#autocomplete).
// Other options get no choices.
func suggestIssues(command string) func(ctx context.Context, r *Router, i *Interaction, data disgo.AutocompleteInteractionData) Response {
	return func(ctx context.Context, r *Router, i *Interaction, data disgo.AutocompleteInteractionData) Response {
		choices := []disgo.AutocompleteChoice{}
		o, ok := data.Options["issue"]
		if !ok || !o.Focused {
			return autocomplete(choices)
		}
		var typed string
		if json.Unmarshal(o.Value, &typed) != nil {
			var n json.Number
			if json.Unmarshal(o.Value, &n) == nil {
				typed = n.String()
			}
		}
		for _, c := range r.Service.SuggestIssues(ctx, i.User, command, typed) {
			choices = append(choices, disgo.AutocompleteChoiceInt{Name: c.Name, Value: c.Value})
		}
		return autocomplete(choices)
	}
}

// autocomplete is an autocomplete answer (callback type 8) with at most
// 25 choices.
func autocomplete(choices []disgo.AutocompleteChoice) Response {
	return &disgo.InteractionResponse{Type: disgo.InteractionResponseTypeAutocompleteResult, Data: disgo.AutocompleteResult{Choices: choices}}
}

// threadRequest is the request of an interaction inside a thread, with
// the names its resolved data gives.
func threadRequest(i *Interaction, iid int) sdesk.ThreadRequest {
	return sdesk.ThreadRequest{
		InteractionID: i.ID, Token: i.Token, ChannelID: i.ChannelID, User: i.User, IID: iid,
		Names: names(i, nil),
	}
}

// modalSelect is a String Select as a modal takes it: disgo always writes
// "disabled", and "Using disabled in a modal will result in an error.
// Modals can not currently have disabled components in them."
// (https://discord.com/developers/docs/components/reference#string-select).
// Embedding keeps it a disgo.LabelSubComponent.
type modalSelect struct {
	disgo.StringSelectMenuComponent
}

// MarshalJSON writes the select without "disabled".
func (c modalSelect) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Type        disgo.ComponentType            `json:"type"`
		ID          int                            `json:"id,omitempty"`
		CustomID    string                         `json:"custom_id"`
		Placeholder string                         `json:"placeholder,omitempty"`
		MinValues   *int                           `json:"min_values,omitempty"`
		MaxValues   int                            `json:"max_values,omitempty"`
		Options     []disgo.StringSelectMenuOption `json:"options"`
		Required    bool                           `json:"required"`
	}{c.Type(), c.ID, c.CustomID, c.Placeholder, c.MinValues, c.MaxValues, c.Options, c.Required})
}

// replyFileOptions are /reply's optional file options, in order: options
// of type ATTACHMENT (11), whose value is the ID of an attachment described
// in data.resolved.attachments
// (https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-option-type,
// https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-resolved-data-structure).
var replyFileOptions = []string{"file", "file2", "file3"}

// replyOptions are /reply's options: the required message (at most
// sdesk.MaxReply characters), then the optional files (required options
// must come first).
func replyOptions() []disgo.ApplicationCommandOption {
	opts := []disgo.ApplicationCommandOption{disgo.ApplicationCommandOptionString{
		Name:        "message",
		Description: "Your answer",
		Required:    true,
		MaxLength:   &maxReply,
	}}
	for n, name := range replyFileOptions {
		desc := "A screenshot or log file to attach"
		if n > 0 {
			desc = "Another file to attach"
		}
		opts = append(opts, disgo.ApplicationCommandOptionAttachment{Name: name, Description: desc})
	}
	return opts
}

// optionFiles are the files of /reply's file options, in their order. An
// option that is not an attachment ID, or names an attachment the command
// does not describe, is dropped and logged.
func (r *Router) optionFiles(i *Interaction, data disgo.SlashCommandInteractionData) []sdesk.Attachment {
	var out []sdesk.Attachment
	for _, name := range replyFileOptions {
		o, ok := data.Options[name]
		if !ok {
			continue
		}
		var id snowflake.ID
		if o.Type != disgo.ApplicationCommandOptionTypeAttachment || json.Unmarshal(o.Value, &id) != nil {
			r.log().Warn("file option is not an attachment; dropped", slog.String("interaction_id", i.ID), slog.String("option", name))
			continue
		}
		a, ok := data.Resolved.Attachments[id]
		if !ok {
			r.log().Warn("file option names an attachment the command does not describe; dropped",
				slog.String("interaction_id", i.ID), slog.String("attachment_id", id.String()))
			continue
		}
		out = append(out, attachment(a))
	}
	return out
}

// sentMessage fills a "Send to GitLab" request with what the message m
// shows (https://discord.com/developers/docs/resources/message#message-object):
// its ID, its content, the names of its stickers, its embeds' text, its
// attachments, and, for a forward (message_reference type 1, an empty
// content), each message_snapshots[].message: content, stickers, embeds
// and attachments
// (https://discord.com/developers/docs/resources/message#message-snapshot-object).
// The author is named when it is not the user who sends.
func sentMessage(req *sdesk.ThreadRequest, m disgo.Message) {
	req.MessageID = m.ID.String()
	req.Text = m.Content
	if m.Author.ID != 0 && m.Author.ID.String() != req.User.ID {
		// Named in sdesk's own attribution line, not in the user's quoted
		// text, where anyone could type it.
		req.MessageAuthor = m.Author.Username
		if req.MessageAuthor == "" {
			req.MessageAuthor = "user " + m.Author.ID.String()
		}
	}
	req.Stickers = stickerNames(m.StickerItems, nil)
	req.Embeds = embedTexts(m.Embeds)
	for _, a := range m.Attachments {
		req.Files = append(req.Files, attachment(a))
	}
	for _, snap := range m.MessageSnapshots {
		p := snap.Message
		req.Forwarded = append(req.Forwarded, sdesk.Shown{
			Text: p.Content, Stickers: stickerNames(p.StickerItems, p.Stickers), Embeds: embedTexts(p.Embeds),
		})
		for _, a := range p.Attachments {
			req.Files = append(req.Files, attachment(a))
		}
	}
}

// stickerNames are the names of a message's stickers: its sticker_items,
// or the deprecated stickers when it has no sticker_items
// (https://discord.com/developers/docs/resources/sticker#sticker-item-object).
func stickerNames(items []disgo.MessageSticker, stickers []disgo.Sticker) []string {
	var out []string
	for _, s := range items {
		out = append(out, s.Name)
	}
	if len(out) == 0 {
		for _, s := range stickers {
			out = append(out, s.Name)
		}
	}
	return out
}

// embedTexts are the readable texts of embeds, those with any text.
func embedTexts(embeds []disgo.Embed) []string {
	var out []string
	for _, e := range embeds {
		if t := embedText(e); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// embedText is what an embed shows as text, one item a line
// (https://discord.com/developers/docs/resources/message#embed-object):
// the author's name, the title and the URL it links to, the description,
// each field as "name: value", and the footer. Images, thumbnails and
// videos are left out, and so is a title's link to Discord's CDN (signed
// links expire, cdnHosts). "" for an embed without text.
func embedText(e disgo.Embed) string {
	var lines []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			lines = append(lines, s)
		}
	}
	if e.Author != nil {
		add(e.Author.Name)
	}
	add(e.Title)
	if strings.TrimSpace(e.Title) != "" && e.URL != "" {
		if u, err := url.Parse(e.URL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && !cdnHosts[strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")] {
			add(e.URL)
		}
	}
	add(e.Description)
	for _, f := range e.Fields {
		name, value := strings.TrimSpace(f.Name), strings.TrimSpace(f.Value)
		switch {
		case name != "" && value != "":
			add(name + ": " + value)
		default:
			add(name + value)
		}
	}
	if e.Footer != nil {
		add(e.Footer.Text)
	}
	return strings.Join(lines, "\n")
}

// names are the display names an interaction's data.resolved gives
// (users, members, roles, channels:
// https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-resolved-data-structure),
// and, for a message m, those of the users and channels it and the
// messages it forwards mention (mentions, mention_channels). A role that
// m mentions (mention_roles, IDs only) has a name only when the resolved
// data describes it. A user's name is the member's nick, else the global
// name, else the username. Names are Discord's, unescaped.
func names(i *Interaction, m *disgo.Message) sdesk.Names {
	var n sdesk.Names
	put := func(to *map[string]string, id snowflake.ID, name string) {
		if id == 0 || name == "" {
			return
		}
		if *to == nil {
			*to = map[string]string{}
		}
		if _, ok := (*to)[id.String()]; !ok {
			(*to)[id.String()] = name
		}
	}
	res := i.Resolved
	for id, mem := range res.Members {
		if mem.Nick != nil {
			put(&n.Users, id, *mem.Nick)
		}
	}
	for id, u := range res.Users {
		put(&n.Users, id, displayName(u))
	}
	for id, r := range res.Roles {
		put(&n.Roles, id, r.Name)
	}
	for id, c := range res.Channels {
		put(&n.Channels, id, c.Name)
	}
	if m != nil {
		mentions := slices.Clone(m.Mentions)
		for _, s := range m.MessageSnapshots {
			mentions = append(mentions, s.Message.Mentions...)
		}
		for _, u := range mentions {
			put(&n.Users, u.ID, displayName(u))
		}
		for _, c := range m.MentionChannels {
			put(&n.Channels, c.ID, c.Name)
		}
	}
	return n
}

// displayName is a user's global name, else the username.
func displayName(u disgo.User) string {
	if u.GlobalName != nil && *u.GlobalName != "" {
		return *u.GlobalName
	}
	return u.Username
}
