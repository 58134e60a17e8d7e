package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	disgo "github.com/disgoorg/disgo/discord"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Command is one application command: its definition, as `sdesk commands
// sync` registers it, and its handler, as the router runs it. Commands is
// the single registry that feeds both.
type Command struct {
	Def    disgo.ApplicationCommandCreate
	Handle func(ctx context.Context, r *Router, i *Interaction) Response
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
		Handle: func(ctx context.Context, r *Router, i *Interaction) Response {
			if err := r.Service.CheckReport(i.User); err != nil {
				return r.answer(ctx, i, sdesk.Answer{}, err, true)
			}
			return Modal(sdesk.RouteReportModal, "Report a problem", reportFields(r.Service.Categories)...)
		},
	},
	{
		Def: disgo.SlashCommandCreate{
			Name:        "reply",
			Description: "Send an answer to the GitLab issue of this thread",
			Contexts:    guildOnly,
			Options: []disgo.ApplicationCommandOption{disgo.ApplicationCommandOptionString{
				Name:        "message",
				Description: "Your answer",
				Required:    true,
				MaxLength:   &maxReply,
			}},
		},
		Handle: func(ctx context.Context, r *Router, i *Interaction) Response {
			req := threadRequest(i, 0)
			if data, ok := commandData(i).(disgo.SlashCommandInteractionData); ok {
				if o, ok := data.Options["message"]; ok && o.Type == disgo.ApplicationCommandOptionTypeString {
					_ = json.Unmarshal(o.Value, &req.Text) // not a string: empty, refused as such
				}
			}
			a, err := r.Service.SubmitReply(ctx, req)
			return r.answer(ctx, i, a, err, false)
		},
	},
	{
		Def: disgo.SlashCommandCreate{
			Name:        "close",
			Description: "Close the GitLab issue of this thread",
			Contexts:    guildOnly,
		},
		Handle: func(ctx context.Context, r *Router, i *Interaction) Response {
			a, err := r.Service.SubmitClose(ctx, threadRequest(i, 0))
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
					req.Text = m.Content
					if m.Author.ID != 0 && m.Author.ID.String() != req.User.ID {
						// Named in sdesk's own attribution line, not in the
						// user's quoted text, where anyone could type it.
						req.MessageAuthor = m.Author.Username
						if req.MessageAuthor == "" {
							req.MessageAuthor = "user " + m.Author.ID.String()
						}
					}
					for _, a := range m.Attachments {
						req.Attachments = append(req.Attachments, a.URL)
					}
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
	zero := 0
	fields = append(fields, disgo.LabelComponent{
		Label:       "Screenshots or logs",
		Description: fmt.Sprintf("Optional: up to %d files", sdesk.MaxReportFiles),
		Component: disgo.FileUploadComponent{
			CustomID: fieldFiles, MinValues: &zero, MaxValues: sdesk.MaxReportFiles, Required: false,
		},
	})
	return fields
}

// component and modal routes, matched like paths (see match).
var components = []struct {
	route  string
	handle func(ctx context.Context, r *Router, i *Interaction, iid int) Response
}{
	{sdesk.RouteReply, func(ctx context.Context, r *Router, i *Interaction, iid int) Response {
		if _, err := r.Service.CheckReply(ctx, threadRequest(i, iid)); err != nil {
			return r.answer(ctx, i, sdesk.Answer{}, err, true)
		}
		return Modal(sdesk.Route(sdesk.RouteReplyModal, iid), "Reply on GitLab",
			TextField("message", "Your answer", "", disgo.TextInputStyleParagraph, sdesk.MaxReply))
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
		a, err := r.Service.SubmitReply(ctx, req)
		return r.answer(ctx, i, a, err, false)
	}},
}

func threadRequest(i *Interaction, iid int) sdesk.ThreadRequest {
	return sdesk.ThreadRequest{
		InteractionID: i.ID, Token: i.Token, ChannelID: i.ChannelID, User: i.User, IID: iid,
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
