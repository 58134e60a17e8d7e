package discord

import (
	"context"

	"github.com/bwmarrin/discordgo"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Command is one application command: its definition, as `sdesk commands
// sync` registers it, and its handler, as the router runs it. Commands is
// the single registry that feeds both.
type Command struct {
	Def    *discordgo.ApplicationCommand
	Handle func(ctx context.Context, r *Router, i *discordgo.Interaction) Response
}

var guildOnly = &[]discordgo.InteractionContextType{discordgo.InteractionContextGuild}

// Commands is the command registry.
var Commands = []Command{
	{
		Def: &discordgo.ApplicationCommand{
			Name:        "report",
			Description: "Report a problem to the team (opens a private thread)",
			Type:        discordgo.ChatApplicationCommand,
			Contexts:    guildOnly,
		},
		Handle: func(ctx context.Context, r *Router, i *discordgo.Interaction) Response {
			if err := r.Service.CheckReport(user(i)); err != nil {
				return r.answer(ctx, i, sdesk.Answer{}, err, true)
			}
			return Modal(sdesk.RouteReportModal, "Report a problem",
				TextField{ID: "title", Label: "Title", Style: discordgo.TextInputShort, Max: sdesk.MaxTitle, Placeholder: "What went wrong, in a few words"},
				TextField{ID: "description", Label: "Description", Style: discordgo.TextInputParagraph, Max: sdesk.MaxDescription, Placeholder: "What happened, what you expected, steps to reproduce"},
			)
		},
	},
	{
		Def: &discordgo.ApplicationCommand{
			Name:        "reply",
			Description: "Send an answer to the GitLab issue of this thread",
			Type:        discordgo.ChatApplicationCommand,
			Contexts:    guildOnly,
			Options: []*discordgo.ApplicationCommandOption{{
				Type:        discordgo.ApplicationCommandOptionString,
				Name:        "message",
				Description: "Your answer",
				Required:    true,
				MaxLength:   sdesk.MaxReply,
			}},
		},
		Handle: func(ctx context.Context, r *Router, i *discordgo.Interaction) Response {
			req := threadRequest(i, 0)
			for _, o := range i.ApplicationCommandData().Options {
				if o.Name == "message" && o.Type == discordgo.ApplicationCommandOptionString {
					req.Text = o.StringValue()
				}
			}
			a, err := r.Service.SubmitReply(ctx, req)
			return r.answer(ctx, i, a, err, false)
		},
	},
	{
		Def: &discordgo.ApplicationCommand{
			Name:        "close",
			Description: "Close the GitLab issue of this thread",
			Type:        discordgo.ChatApplicationCommand,
			Contexts:    guildOnly,
		},
		Handle: func(ctx context.Context, r *Router, i *discordgo.Interaction) Response {
			a, err := r.Service.SubmitClose(ctx, threadRequest(i, 0))
			return r.answer(ctx, i, a, err, true)
		},
	},
	{
		Def: &discordgo.ApplicationCommand{
			Name:     "Send to GitLab",
			Type:     discordgo.MessageApplicationCommand,
			Contexts: guildOnly,
		},
		Handle: func(ctx context.Context, r *Router, i *discordgo.Interaction) Response {
			data := i.ApplicationCommandData()
			req := threadRequest(i, 0)
			if data.Resolved != nil {
				if m, ok := data.Resolved.Messages[data.TargetID]; ok && m != nil {
					req.Text = m.Content
					if m.Author != nil && m.Author.ID != req.User.ID {
						// Named in sdesk's own attribution line, not in the
						// user's quoted text, where anyone could type it.
						req.MessageAuthor = m.Author.Username
						if req.MessageAuthor == "" {
							req.MessageAuthor = "user " + m.Author.ID
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

// Definitions returns the commands to register with Discord.
func Definitions() []*discordgo.ApplicationCommand {
	defs := make([]*discordgo.ApplicationCommand, len(Commands))
	for i, c := range Commands {
		defs[i] = c.Def
	}
	return defs
}

// component and modal routes, matched like paths (see match).
var components = []struct {
	route  string
	handle func(ctx context.Context, r *Router, i *discordgo.Interaction, iid int) Response
}{
	{sdesk.RouteReply, func(ctx context.Context, r *Router, i *discordgo.Interaction, iid int) Response {
		if _, err := r.Service.CheckReply(ctx, threadRequest(i, iid)); err != nil {
			return r.answer(ctx, i, sdesk.Answer{}, err, true)
		}
		return Modal(sdesk.Route(sdesk.RouteReplyModal, iid), "Reply on GitLab",
			TextField{ID: "message", Label: "Your answer", Style: discordgo.TextInputParagraph, Max: sdesk.MaxReply})
	}},
	{sdesk.RouteClose, func(ctx context.Context, r *Router, i *discordgo.Interaction, iid int) Response {
		a, err := r.Service.SubmitClose(ctx, threadRequest(i, iid))
		return r.answer(ctx, i, a, err, true)
	}},
}

var modals = []struct {
	route  string
	handle func(ctx context.Context, r *Router, i *discordgo.Interaction, iid int, fields map[string]string) Response
}{
	{sdesk.RouteReportModal, func(ctx context.Context, r *Router, i *discordgo.Interaction, _ int, f map[string]string) Response {
		u := user(i)
		err := r.Service.SubmitReport(ctx, sdesk.ReportRequest{
			InteractionID: i.ID, Token: i.Token, GuildID: i.GuildID, User: u,
			Title: f["title"], Description: f["description"],
		})
		return r.answer(ctx, i, sdesk.Answer{Deferred: true}, err, true)
	}},
	{sdesk.RouteReplyModal, func(ctx context.Context, r *Router, i *discordgo.Interaction, iid int, f map[string]string) Response {
		req := threadRequest(i, iid)
		req.Text = f["message"]
		a, err := r.Service.SubmitReply(ctx, req)
		return r.answer(ctx, i, a, err, false)
	}},
}

func user(i *discordgo.Interaction) sdesk.User {
	var u sdesk.User
	switch {
	case i.Member != nil && i.Member.User != nil:
		u.ID, u.Username, u.RoleIDs = i.Member.User.ID, i.Member.User.Username, i.Member.Roles
		if t := i.Member.CommunicationDisabledUntil; t != nil {
			u.TimedOutUntil = t.UTC()
		}
	case i.User != nil:
		u.ID, u.Username = i.User.ID, i.User.Username
	}
	return u
}

func threadRequest(i *discordgo.Interaction, iid int) sdesk.ThreadRequest {
	return sdesk.ThreadRequest{
		InteractionID: i.ID, Token: i.Token, ChannelID: i.ChannelID, User: user(i), IID: iid,
	}
}
