package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/bwmarrin/discordgo"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Response is the JSON answer to an interaction.
type Response = *discordgo.InteractionResponse

// Router answers verified interactions. It decodes them with discordgo's
// types and routes commands by name (Commands), and components and modals
// by custom ID, like paths ("reply/{iid}").
type Router struct {
	Service *sdesk.Service
	Logger  *slog.Logger
}

// Messages users see; never an error's text.
const (
	msgUnsupported = "This action is not supported."
	msgUnknown     = "This command is not known to sdesk any more. An admin can run `sdesk commands sync`."
)

// Interact decodes and answers one interaction whose signature has been
// verified. It never fails: what cannot be handled gets an ephemeral
// message.
func (r *Router) Interact(ctx context.Context, body []byte) Response {
	var i discordgo.Interaction
	if err := json.Unmarshal(body, &i); err != nil {
		// discordgo fails on component types it does not know.
		var head struct {
			ID   string `json:"id"`
			Type int    `json:"type"`
		}
		_ = json.Unmarshal(body, &head)
		sdesk.AddLogAttrs(ctx, slog.String("interaction_id", head.ID), slog.Int("interaction_type", head.Type))
		r.log().Warn("undecodable interaction", slog.String("interaction_id", head.ID), slog.String("error", err.Error()))
		if head.Type == int(discordgo.InteractionPing) {
			return &discordgo.InteractionResponse{Type: discordgo.InteractionResponsePong}
		}
		return Ephemeral(msgUnsupported)
	}
	sdesk.AddLogAttrs(ctx, slog.String("interaction_id", i.ID), slog.Int("interaction_type", int(i.Type)))
	switch i.Type {
	case discordgo.InteractionPing:
		return &discordgo.InteractionResponse{Type: discordgo.InteractionResponsePong}
	case discordgo.InteractionApplicationCommand:
		name := i.ApplicationCommandData().Name
		sdesk.AddLogAttrs(ctx, slog.String("command", name))
		for _, c := range Commands {
			if c.Def.Name == name {
				return c.Handle(ctx, r, &i)
			}
		}
		return Ephemeral(msgUnknown)
	case discordgo.InteractionMessageComponent:
		id := i.MessageComponentData().CustomID
		sdesk.AddLogAttrs(ctx, slog.String("custom_id", id))
		for _, c := range components {
			if iid, ok := match(c.route, id); ok {
				return c.handle(ctx, r, &i, iid)
			}
		}
	case discordgo.InteractionModalSubmit:
		data := i.ModalSubmitData()
		sdesk.AddLogAttrs(ctx, slog.String("custom_id", data.CustomID))
		for _, m := range modals {
			if iid, ok := match(m.route, data.CustomID); ok {
				return m.handle(ctx, r, &i, iid, fields(data.Components))
			}
		}
	}
	return Ephemeral(msgUnsupported)
}

func (r *Router) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// answer turns a service answer into an interaction response: a deferred
// message (ephemeral or public), an ephemeral message, or, for an error,
// an ephemeral message with a reference that matches the log line.
func (r *Router) answer(ctx context.Context, i *discordgo.Interaction, a sdesk.Answer, err error, ephemeral bool) Response {
	var ue *sdesk.UserError
	switch {
	case errors.As(err, &ue):
		return Ephemeral(ue.Message)
	case err != nil:
		ref := sdesk.NewRef()
		r.log().Error("interaction failed", slog.String("interaction_id", i.ID), slog.String("error_ref", ref), slog.String("error", err.Error()))
		sdesk.AddLogAttrs(ctx, slog.String("error_ref", ref))
		return Ephemeral(fmt.Sprintf("Sorry, sdesk could not do that right now. Please try again in a minute (reference `%s`).", ref))
	case a.Deferred:
		resp := &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource}
		if ephemeral {
			resp.Data = &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral}
		}
		return resp
	}
	return Ephemeral(a.Message)
}

// Ephemeral is an immediate message only the user sees; it pings nobody.
func Ephemeral(content string) Response {
	return &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{
			Content:         content,
			Flags:           discordgo.MessageFlagsEphemeral,
			AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}},
		},
	}
}

// TextField is one text input of a modal.
type TextField struct {
	ID, Label, Placeholder string
	Style                  discordgo.TextInputStyle
	Max                    int
}

// Modal is a modal of ActionRow -> TextInput rows (discordgo v0.29.0
// cannot decode Label components). Every field is required.
func Modal(customID, title string, fields ...TextField) Response {
	rows := make([]discordgo.MessageComponent, len(fields))
	for n, f := range fields {
		rows[n] = discordgo.ActionsRow{Components: []discordgo.MessageComponent{discordgo.TextInput{
			CustomID: f.ID, Label: f.Label, Style: f.Style, Placeholder: f.Placeholder,
			Required: true, MinLength: 1, MaxLength: f.Max,
		}}}
	}
	return &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseModal,
		Data: &discordgo.InteractionResponseData{CustomID: customID, Title: title, Components: rows},
	}
}

// match matches a custom ID against a route like "reply/{iid}".
func match(route, id string) (int, bool) {
	rs, is := strings.Split(route, "/"), strings.Split(id, "/")
	if len(rs) != len(is) {
		return 0, false
	}
	iid := 0
	for n := range rs {
		if rs[n] == "{iid}" {
			v, err := strconv.Atoi(is[n])
			if err != nil || v <= 0 {
				return 0, false
			}
			iid = v
			continue
		}
		if rs[n] != is[n] {
			return 0, false
		}
	}
	return iid, true
}

func fields(rows []discordgo.MessageComponent) map[string]string {
	out := map[string]string{}
	for _, row := range rows {
		ar, ok := row.(*discordgo.ActionsRow)
		if !ok {
			continue
		}
		for _, c := range ar.Components {
			if ti, ok := c.(*discordgo.TextInput); ok {
				out[ti.CustomID] = ti.Value
			}
		}
	}
	return out
}
