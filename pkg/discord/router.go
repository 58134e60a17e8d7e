package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	disgo "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/snowflake/v2"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Response is the JSON answer to an interaction
// (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object).
type Response = *disgo.InteractionResponse

// Router answers verified interactions. It decodes them with disgo's types
// and routes commands by name (Commands), and components and modals by
// custom ID, like paths ("reply/{iid}").
type Router struct {
	Service *sdesk.Service
	Logger  *slog.Logger
}

// Interaction is a verified interaction as the handlers see it.
type Interaction struct {
	ID, Token, GuildID, ChannelID string
	// User is the member (in a guild) or user who acted.
	User sdesk.User
	// Raw is disgo's decoded interaction: a disgo.PingInteraction,
	// disgo.ApplicationCommandInteraction, disgo.ComponentInteraction or
	// disgo.ModalSubmitInteraction (values, not pointers).
	Raw disgo.Interaction
	// Resolved is the interaction's data.resolved: the users, members,
	// roles, channels and attachments it names, whatever its type (disgo
	// keeps only the messages of a message command's). Empty when absent
	// or malformed: it only gives names.
	Resolved disgo.ResolvedData
}

// Interact decodes and answers one interaction whose signature has been
// verified. It never fails and never panics: what cannot be decoded or
// handled (a component type disgo does not know, a form sdesk did not
// build) gets an ephemeral "not supported" message.
func (r *Router) Interact(ctx context.Context, body []byte) Response {
	// A PING (type 1), which Discord sends to check the endpoint, is
	// answered from its type alone: no need for disgo's full decode.
	var head struct {
		ID   string          `json:"id"`
		Type json.RawMessage `json:"type"`
	}
	if json.Unmarshal(body, &head) == nil && string(head.Type) == "1" {
		sdesk.AddLogAttrs(ctx, slog.String("interaction_id", head.ID), slog.Int("interaction_type", 1))
		return &disgo.InteractionResponse{Type: disgo.InteractionResponseTypePong}
	}
	i, err := decode(body)
	if err != nil {
		var head struct {
			ID   string `json:"id"`
			Type int    `json:"type"`
		}
		_ = json.Unmarshal(body, &head)
		sdesk.AddLogAttrs(ctx, slog.String("interaction_id", head.ID), slog.Int("interaction_type", head.Type))
		r.log().Warn("undecodable interaction", slog.String("interaction_id", head.ID), slog.String("error", err.Error()))
		if head.Type == int(disgo.InteractionTypePing) {
			return &disgo.InteractionResponse{Type: disgo.InteractionResponseTypePong}
		}
		return Ephemeral(sdesk.MsgUnsupported)
	}
	sdesk.AddLogAttrs(ctx, slog.String("interaction_id", i.ID), slog.Int("interaction_type", int(i.Raw.Type())))
	switch raw := i.Raw.(type) {
	case disgo.PingInteraction:
		return &disgo.InteractionResponse{Type: disgo.InteractionResponseTypePong}
	case disgo.ApplicationCommandInteraction:
		name := raw.Data.CommandName()
		sdesk.AddLogAttrs(ctx, slog.String("command", name))
		for _, c := range Commands {
			if c.Def.CommandName() == name && c.Def.Type() == raw.Data.Type() {
				return c.Handle(ctx, r, i)
			}
		}
		return Ephemeral(sdesk.MsgUnknownCommand)
	case disgo.AutocompleteInteraction:
		name := raw.Data.CommandName
		sdesk.AddLogAttrs(ctx, slog.String("command", name))
		for _, c := range Commands {
			if c.Def.CommandName() == name && c.Def.Type() == disgo.ApplicationCommandTypeSlash && c.Autocomplete != nil {
				return c.Autocomplete(ctx, r, i, raw.Data)
			}
		}
		return autocomplete([]disgo.AutocompleteChoice{})
	case disgo.ComponentInteraction:
		id := raw.Data.CustomID()
		sdesk.AddLogAttrs(ctx, slog.String("custom_id", id))
		for _, c := range components {
			if iid, ok := match(c.route, id); ok {
				return c.handle(ctx, r, i, iid)
			}
		}
	case disgo.ModalSubmitInteraction:
		sdesk.AddLogAttrs(ctx, slog.String("custom_id", raw.Data.CustomID))
		f := r.form(i, raw.Data)
		if f.unknown {
			r.log().Warn("modal submit with a component sdesk does not know", slog.String("interaction_id", i.ID))
			return Ephemeral(sdesk.MsgUnsupported)
		}
		for _, m := range modals {
			if iid, ok := match(m.route, raw.Data.CustomID); ok {
				return m.handle(ctx, r, i, iid, f)
			}
		}
	}
	return Ephemeral(sdesk.MsgUnsupported)
}

// decode decodes a verified interaction with disgo's types. disgo v0.19
// panics on some shapes (a Label without a component, a Label or an
// action row holding a component of the wrong kind, a member and a user
// both absent); a panic is an undecodable interaction like any other.
func decode(body []byte) (i *Interaction, err error) {
	defer func() {
		if p := recover(); p != nil {
			i, err = nil, fmt.Errorf("decode: disgo panicked: %v", p)
		}
	}()
	raw, err := disgo.UnmarshalInteraction(body)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	// disgo reads the channel only from the partial channel object, and its
	// User() dereferences a missing member: channel_id, member and user are
	// read here (all optional,
	// https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-interaction-structure).
	var env struct {
		ChannelID snowflake.ID          `json:"channel_id"`
		Member    *disgo.ResolvedMember `json:"member"`
		User      *disgo.User           `json:"user"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	i = &Interaction{ID: raw.ID().String(), Token: raw.Token(), Raw: raw}
	var data struct {
		Data struct {
			Resolved json.RawMessage `json:"resolved"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &data) == nil && len(data.Data.Resolved) > 0 && json.Unmarshal(data.Data.Resolved, &i.Resolved) != nil {
		i.Resolved = disgo.ResolvedData{}
	}
	if g := raw.GuildID(); g != nil {
		i.GuildID = g.String()
	}
	if env.ChannelID != 0 {
		i.ChannelID = env.ChannelID.String()
	}
	switch {
	case env.Member != nil && env.Member.User.ID != 0:
		m := env.Member
		i.User = sdesk.User{ID: m.User.ID.String(), Username: m.User.Username}
		for _, role := range m.RoleIDs {
			i.User.RoleIDs = append(i.User.RoleIDs, role.String())
		}
		if t := m.CommunicationDisabledUntil; t != nil {
			i.User.TimedOutUntil = t.UTC()
		}
	case env.User != nil && env.User.ID != 0:
		i.User = sdesk.User{ID: env.User.ID.String(), Username: env.User.Username}
	}
	return i, nil
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
func (r *Router) answer(ctx context.Context, i *Interaction, a sdesk.Answer, err error, ephemeral bool) Response {
	var ue *sdesk.UserError
	switch {
	case errors.As(err, &ue):
		return Ephemeral(ue.Message)
	case err != nil:
		ref := sdesk.NewRef()
		r.log().Error("interaction failed", slog.String("interaction_id", i.ID), slog.String("error_ref", ref), slog.String("error", err.Error()))
		sdesk.AddLogAttrs(ctx, slog.String("error_ref", ref))
		return Ephemeral(sdesk.Apology(ref))
	case a.Deferred:
		resp := &disgo.InteractionResponse{Type: disgo.InteractionResponseTypeDeferredCreateMessage}
		if ephemeral {
			resp.Data = disgo.MessageCreate{Flags: disgo.MessageFlagEphemeral}
		}
		return resp
	}
	resp := Ephemeral(a.Message)
	if rows := r.buttons(i, a.Buttons); len(rows) > 0 {
		data := resp.Data.(disgo.MessageCreate)
		data.Components = rows
		resp.Data = data
	}
	return resp
}

// page answers a button of a paged message (/issues) by replacing the
// message (callback type 7, UPDATE_MESSAGE) with the page asked for; a
// failure gets a new ephemeral message, as answer gives.
func (r *Router) page(ctx context.Context, i *Interaction, a sdesk.Answer, err error) Response {
	if err != nil || a.Deferred {
		return r.answer(ctx, i, a, err, true)
	}
	rows := r.buttons(i, a.Buttons)
	return &disgo.InteractionResponse{
		Type: disgo.InteractionResponseTypeUpdateMessage,
		Data: disgo.MessageUpdate{Content: &a.Message, Components: &rows, AllowedMentions: allowedMentions(nil)},
	}
}

// buttons lays a message's buttons out in action rows (convertButtons);
// buttons beyond Discord's limits are a bug, logged and left out.
func (r *Router) buttons(i *Interaction, bs []sdesk.Button) []disgo.LayoutComponent {
	if len(bs) == 0 {
		return nil
	}
	rows, err := convertButtons(bs)
	if err != nil {
		r.log().Error("buttons left out of an answer", slog.String("interaction_id", i.ID), slog.String("error", err.Error()))
		return nil
	}
	return rows
}

// Ephemeral is an immediate message only the user sees (callback type 4,
// flag 64); it pings nobody (allowed_mentions with empty lists).
func Ephemeral(content string) Response {
	return &disgo.InteractionResponse{
		Type: disgo.InteractionResponseTypeCreateMessage,
		Data: disgo.MessageCreate{
			Content:         content,
			Flags:           disgo.MessageFlagEphemeral,
			AllowedMentions: allowedMentions(nil),
		},
	}
}

// Modal is a modal answer (callback type 9): custom ID and title (at most
// 45 characters), 1 to 5 top-level components, here Labels
// (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object-modal).
func Modal(customID, title string, fields ...disgo.LayoutComponent) Response {
	return &disgo.InteractionResponse{
		Type: disgo.InteractionResponseTypeModal,
		Data: disgo.ModalCreate{CustomID: customID, Title: title, Components: fields},
	}
}

// TextField is a required Text Input (type 4) in a Label (type 18), as
// Discord now asks modals to hold text inputs
// (https://discord.com/developers/docs/components/reference#label,
// #text-input): label at most 45 characters, placeholder at most 100, at
// least 1 and at most max (≤ 4000) characters of input.
func TextField(id, label, placeholder string, style disgo.TextInputStyle, max int) disgo.LabelComponent {
	one := 1
	return disgo.LabelComponent{Label: label, Component: disgo.TextInputComponent{
		CustomID: id, Style: style, Placeholder: placeholder, Required: true, MinLength: &one, MaxLength: max,
	}}
}

// match matches a custom ID against a route like "reply/{iid}" or
// "issues/{page}": an {iid} is a number from 1, a {page} one from 0,
// written in decimal digits only. It returns the route's number (0 for a
// route without one).
func match(route, id string) (int, bool) {
	rs, is := strings.Split(route, "/"), strings.Split(id, "/")
	if len(rs) != len(is) {
		return 0, false
	}
	num := 0
	for n := range rs {
		if rs[n] == "{iid}" || rs[n] == "{page}" {
			v, err := strconv.Atoi(is[n])
			least := 0
			if rs[n] == "{iid}" {
				least = 1
			}
			if err != nil || v < least || strings.TrimLeft(is[n], "0123456789") != "" || v > maxRouteNumber {
				return 0, false
			}
			num = v
			continue
		}
		if rs[n] != is[n] {
			return 0, false
		}
	}
	return num, true
}

// maxRouteNumber bounds the numbers of custom IDs: issue numbers and
// pages are far below it.
const maxRouteNumber = 1 << 31

// form is what a modal submit carried, by custom ID
// (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-modal-submit-data-structure).
// Both shapes are read: Label (type 18) → Text Input, String Select or
// File Upload, and ActionRow (type 1) → Text Input, the shape of the
// modals sdesk built before Labels (one opened before an upgrade may be
// submitted after it).
type form struct {
	text    map[string]string // Text Input: value
	present map[string]bool   // custom IDs of every input the submit holds
	values  map[string][]string
	files   map[string][]sdesk.Attachment
	unknown bool // a component type disgo does not know
}

// form reads a modal submit. A File Upload's values are attachment IDs,
// each described in data.resolved.attachments
// (https://discord.com/developers/docs/components/reference#file-upload-file-upload-interaction-response-structure);
// an ID without one is dropped and logged.
func (r *Router) form(i *Interaction, data disgo.ModalSubmitInteractionData) form {
	f := form{text: map[string]string{}, present: map[string]bool{}, values: map[string][]string{}, files: map[string][]sdesk.Attachment{}}
	for c := range data.AllComponents() {
		switch c := c.(type) {
		case disgo.TextInputComponent:
			f.text[c.CustomID], f.present[c.CustomID] = c.Value, true
		case disgo.StringSelectMenuComponent:
			f.values[c.CustomID], f.present[c.CustomID] = c.Values, true
		case disgo.FileUploadComponent:
			f.present[c.CustomID] = true
			for _, id := range c.Values {
				a, ok := data.Resolved.Attachments[id]
				if !ok {
					r.log().Warn("file upload names an attachment the submit does not describe; dropped",
						slog.String("interaction_id", i.ID), slog.String("attachment_id", id.String()))
					continue
				}
				f.files[c.CustomID] = append(f.files[c.CustomID], attachment(a))
			}
		case disgo.UnknownComponent:
			f.unknown = true
		}
	}
	return f
}

// attachment converts a resolved attachment.
func attachment(a disgo.Attachment) sdesk.Attachment {
	out := sdesk.Attachment{ID: a.ID.String(), Filename: a.Filename, URL: a.URL, Size: int64(a.Size)}
	if a.ContentType != nil {
		out.ContentType = *a.ContentType
	}
	return out
}
