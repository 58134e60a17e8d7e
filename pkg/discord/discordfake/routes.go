package discordfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Discord JSON error codes the fake answers.
const (
	codeUnknownChannel     = 10003
	codeUnknownMessage     = 10008
	codeEmptyMessage       = 50006
	codeWrongChannelType   = 50024
	codeInvalidForm        = 50035
	codeThreadArchived     = 50083
	codeInvalidJSON        = 50109
	codeAlreadyAcknowledge = 40060
)

type params map[string]string

type route struct {
	method  string
	pattern []string // segments; "{x}" matches any one segment
	bot     bool     // needs the bot's Authorization
	handle  func(s *Server, r *Request, p params) (int, any)
}

var routes = []route{
	{http.MethodPost, segs("/channels/{channel}/threads"), true, (*Server).createThread},
	{http.MethodPut, segs("/channels/{channel}/thread-members/{user}"), true, (*Server).addThreadMember},
	{http.MethodPost, segs("/channels/{channel}/messages"), true, (*Server).createMessage},
	{http.MethodPatch, segs("/channels/{channel}/messages/{message}"), true, (*Server).editMessage},
	{http.MethodPatch, segs("/channels/{channel}"), true, (*Server).editChannel},
	{http.MethodGet, segs("/guilds/{guild}/threads/active"), true, (*Server).activeThreads},
	{http.MethodGet, segs("/users/@me"), true, (*Server).currentUser},
	{http.MethodPatch, segs("/webhooks/{app}/{token}/messages/{message}"), false, (*Server).editWebhookMessage},
	{http.MethodPost, segs("/webhooks/{app}/{token}"), false, (*Server).createFollowup},
	{http.MethodPost, segs("/interactions/{id}/{token}/callback"), false, (*Server).interactionCallback},
	{http.MethodPut, segs("/applications/{app}/commands"), true, (*Server).overwriteCommands},
	{http.MethodPut, segs("/applications/{app}/guilds/{guild}/commands"), true, (*Server).overwriteCommands},
	{http.MethodGet, segs("/channels/{channel}"), true, (*Server).getChannel},
	{http.MethodGet, segs("/guilds/{guild}"), true, (*Server).getGuild},
	{http.MethodGet, segs("/guilds/{guild}/members/{user}"), true, (*Server).getMember},
	{http.MethodGet, segs("/applications/@me"), true, (*Server).currentApplication},
	{http.MethodGet, segs("/applications/{app}/commands"), true, (*Server).listCommands},
	{http.MethodGet, segs("/applications/{app}/guilds/{guild}/commands"), true, (*Server).listCommands},
}

func segs(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

func (rt *route) match(p []string) (params, bool) {
	if len(p) != len(rt.pattern) {
		return nil, false
	}
	out := params{}
	for i, seg := range rt.pattern {
		if strings.HasPrefix(seg, "{") {
			if p[i] == "" {
				return nil, false
			}
			out[strings.Trim(seg, "{}")] = p[i]
		} else if seg != p[i] {
			return nil, false
		}
	}
	return out, true
}

type apiError struct {
	Message string         `json:"message"`
	Code    int            `json:"code"`
	Errors  map[string]any `json:"errors,omitempty"`
}

func errAnswer(status, code int, msg string) (int, any) {
	return status, apiError{Message: msg, Code: code}
}

// formError answers 400 Invalid Form Body with Discord's nested errors
// object for one field path (e.g. "embeds.0.description").
func formError(field, errCode, msg string) (int, any) {
	var inner any = map[string]any{"_errors": []any{map[string]any{"code": errCode, "message": msg}}}
	parts := strings.Split(field, ".")
	for i := len(parts) - 1; i > 0; i-- {
		inner = map[string]any{parts[i]: inner}
	}
	return http.StatusBadRequest, apiError{Message: "Invalid Form Body", Code: codeInvalidForm, Errors: map[string]any{parts[0]: inner}}
}

func (s *Server) route(r *Request, inAPI bool, bodyErr error) (int, any) {
	notFound := apiError{Message: "404: Not Found", Code: 0}
	if !inAPI {
		if status, answer, ok := s.cdnGet(r); ok {
			return status, answer
		}
		return http.StatusNotFound, notFound
	}
	p := segs(r.Path)
	pathKnown := false
	for i := range routes {
		rt := &routes[i]
		ps, ok := rt.match(p)
		if !ok {
			continue
		}
		pathKnown = true
		if rt.method != r.Method {
			continue
		}
		if rt.bot && r.Header.Get("Authorization") != "Bot "+s.token {
			return errAnswer(http.StatusUnauthorized, 0, "401: Unauthorized")
		}
		if bodyErr != nil {
			return errAnswer(http.StatusBadRequest, codeInvalidJSON, "The request body contains invalid JSON.")
		}
		return rt.handle(s, r, ps)
	}
	if pathKnown {
		return errAnswer(http.StatusMethodNotAllowed, 0, "405: Method Not Allowed")
	}
	return http.StatusNotFound, notFound
}

// textChannel returns a channel, creating an unknown ID as a text channel.
func (s *Server) textChannel(id string) *channel {
	c, ok := s.channels[id]
	if !ok {
		c = &channel{id: id, typ: 0, name: "channel-" + id, created: time.Now()}
		s.channels[id] = c
	}
	return c
}

func isThread(c *channel) bool { return c.threadOf != "" }

// unknownChannel answers a route of a channel that does not exist.
func unknownChannel() (int, any) {
	return errAnswer(http.StatusNotFound, codeUnknownChannel, "Unknown Channel")
}

// postChannel is the channel a message or a thread is posted in: on a
// strict fake only one that was made, else any, invented as a text
// channel.
func (s *Server) postChannel(id string) (*channel, bool) {
	if c, ok := s.channels[id]; s.strict && (!ok || !c.known) {
		return nil, false
	}
	return s.textChannel(id), true
}

func (s *Server) createThread(r *Request, p params) (int, any) {
	parent, ok := s.postChannel(p["channel"])
	if !ok {
		return unknownChannel()
	}
	if isThread(parent) {
		return errAnswer(http.StatusBadRequest, codeWrongChannelType, "Cannot execute action on this channel type")
	}
	body := r.Object()
	if body == nil {
		return formError("name", "BASE_TYPE_REQUIRED", "This field is required")
	}
	name, _ := body["name"].(string)
	if n := utf8.RuneCountInString(name); n < 1 || n > 100 {
		return formError("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
	}
	typ, ok := body["type"].(float64)
	if !ok {
		return formError("type", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if typ != 11 && typ != 12 {
		return formError("type", "BASE_TYPE_CHOICES", "Value must be one of {11, 12}.")
	}
	dur := 4320
	if v, ok := body["auto_archive_duration"]; ok && v != nil {
		f, _ := v.(float64)
		switch f {
		case 60, 1440, 4320, 10080:
			dur = int(f)
		default:
			return formError("auto_archive_duration", "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}.")
		}
	}
	invitable := true
	if v, ok := body["invitable"].(bool); ok {
		invitable = v
	}
	t := s.newThread(parent, s.botID, name, int(typ), invitable, dur)
	return http.StatusCreated, s.channelJSON(t)
}

// newThread adds a thread under parent, created (and joined) by owner.
func (s *Server) newThread(parent *channel, owner, name string, typ int, invitable bool, archiveMinutes int) *channel {
	t := &channel{
		known:           true,
		id:              s.newID(),
		parentID:        parent.id,
		threadOf:        parent.id,
		owner:           owner,
		name:            name,
		typ:             typ,
		invitable:       invitable,
		archiveDuration: archiveMinutes,
		created:         time.Now(),
		members:         []string{owner},
	}
	t.archivedAt = t.created
	s.channels[t.id] = t
	return t
}

// activeThreads lists the threads that are not archived, public and
// private, by ID in descending order, as Discord's List Active Guild
// Threads does; members are the bot's own thread members.
func (s *Server) activeThreads(_ *Request, _ params) (int, any) {
	var active []*channel
	for _, c := range s.channels {
		if isThread(c) && !c.archived {
			active = append(active, c)
		}
	}
	slices.SortFunc(active, func(a, b *channel) int { return compareIDs(b.id, a.id) })
	threads, members := []map[string]any{}, []any{}
	for _, c := range active {
		j := s.channelJSON(c)
		if m, ok := j["member"]; ok {
			members = append(members, m)
		}
		threads = append(threads, j)
	}
	return http.StatusOK, map[string]any{"threads": threads, "members": members}
}

// currentUser answers GET /users/@me: the bot user.
func (s *Server) currentUser(_ *Request, _ params) (int, any) {
	return http.StatusOK, s.botUserJSON()
}

// botUserJSON is the bot's user object as Discord answers it.
func (s *Server) botUserJSON() map[string]any {
	return map[string]any{"id": s.botID, "username": "sdesk-fake", "discriminator": "0", "global_name": nil, "avatar": nil, "bot": true}
}

func (s *Server) addThreadMember(_ *Request, p params) (int, any) {
	t, ok := s.channels[p["channel"]]
	if !ok {
		return errAnswer(http.StatusNotFound, codeUnknownChannel, "Unknown Channel")
	}
	if !isThread(t) {
		return errAnswer(http.StatusBadRequest, codeWrongChannelType, "Cannot execute action on this channel type")
	}
	if t.archived {
		return errAnswer(http.StatusBadRequest, codeThreadArchived, "Thread is archived")
	}
	for _, m := range t.members {
		if m == p["user"] {
			return http.StatusNoContent, nil
		}
	}
	t.members = append(t.members, p["user"])
	return http.StatusNoContent, nil
}

func (s *Server) createMessage(r *Request, p params) (int, any) {
	c, ok := s.postChannel(p["channel"])
	if !ok {
		return unknownChannel()
	}
	body := r.Object()
	if body == nil {
		return errAnswer(http.StatusBadRequest, codeEmptyMessage, "Cannot send an empty message")
	}
	if st, ans, bad := checkMessage(body, len(r.Files), true); bad {
		return st, ans
	}
	if isThread(c) && c.archived {
		if c.locked {
			return errAnswer(http.StatusBadRequest, codeThreadArchived, "Thread is archived")
		}
		c.archived = false
	}
	// enforce_nonce: a message with the same nonce is returned, not created
	// again (Discord checks "the past few minutes").
	nonce, _ := body["nonce"].(string)
	if enforce, _ := body["enforce_nonce"].(bool); enforce && nonce != "" {
		for _, id := range c.messages {
			if old := s.messages[id]; old != nil && old.nonce == nonce && time.Since(old.created) < 5*time.Minute {
				return http.StatusOK, s.messageJSON(old)
			}
		}
	}
	m := &message{id: s.newID(), channelID: c.id, created: time.Now(), nonce: nonce}
	s.applyMessage(m, r, body, false)
	s.messages[m.id] = m
	c.messages = append(c.messages, m.id)
	c.lastMessageID = m.id
	return http.StatusOK, s.messageJSON(m)
}

func (s *Server) editMessage(r *Request, p params) (int, any) {
	c, ok := s.channels[p["channel"]]
	if !ok {
		return errAnswer(http.StatusNotFound, codeUnknownChannel, "Unknown Channel")
	}
	m, ok := s.messages[p["message"]]
	if !ok || m.channelID != c.id {
		return errAnswer(http.StatusNotFound, codeUnknownMessage, "Unknown Message")
	}
	body := r.Object()
	if body == nil {
		body = map[string]any{}
	}
	if st, ans, bad := checkMessage(body, len(r.Files), false); bad {
		return st, ans
	}
	if isThread(c) && c.archived {
		return errAnswer(http.StatusBadRequest, codeThreadArchived, "Thread is archived")
	}
	s.applyMessage(m, r, body, true)
	return http.StatusOK, s.messageJSON(m)
}

func (s *Server) editChannel(r *Request, p params) (int, any) {
	c, ok := s.channels[p["channel"]]
	if !ok {
		return errAnswer(http.StatusNotFound, codeUnknownChannel, "Unknown Channel")
	}
	body := r.Object()
	if body == nil {
		return formError("_body", "BASE_TYPE_REQUIRED", "A JSON object is required")
	}
	if v, ok := body["name"]; ok && v != nil {
		name, _ := v.(string)
		if n := utf8.RuneCountInString(name); n < 1 || n > 100 {
			return formError("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
		}
	}
	for _, k := range []string{"archived", "locked", "invitable"} {
		if v, ok := body[k]; ok && v != nil {
			if !isThread(c) {
				return formError(k, "CHANNEL_TYPE_INVALID", "This field is only valid for threads.")
			}
			if _, isBool := v.(bool); !isBool {
				return formError(k, "BASE_TYPE_BOOLEAN", "Must be either true or false.")
			}
		}
	}
	// An archived thread can only be unarchived (archived:false, alone or
	// with other fields), or have its archived/locked flags set.
	if isThread(c) && c.archived {
		unarchive := body["archived"] == false
		_, rename := body["name"]
		if rename && !unarchive {
			return errAnswer(http.StatusBadRequest, codeThreadArchived, "Thread is archived")
		}
	}
	if name, ok := body["name"].(string); ok {
		c.name = name
	}
	if v, ok := body["archived"].(bool); ok {
		if v && !c.archived {
			c.archivedAt = time.Now()
		}
		c.archived = v
	}
	if v, ok := body["locked"].(bool); ok {
		c.locked = v
	}
	if v, ok := body["invitable"].(bool); ok {
		c.invitable = v
	}
	return http.StatusOK, s.channelJSON(c)
}

func (s *Server) editWebhookMessage(r *Request, p params) (int, any) {
	body := r.Object()
	if body == nil {
		body = map[string]any{}
	}
	if st, ans, bad := checkMessage(body, len(r.Files), false); bad {
		return st, ans
	}
	var m *message
	if p["message"] == "@original" {
		m = s.originals[p["token"]]
		if m == nil {
			m = &message{id: s.newID(), webhookID: p["app"], created: time.Now()}
			s.originals[p["token"]] = m
			s.messages[m.id] = m
		}
	} else {
		for _, f := range s.followups[p["token"]] {
			if f.id == p["message"] {
				m = f
			}
		}
		if m == nil {
			return errAnswer(http.StatusNotFound, codeUnknownMessage, "Unknown Message")
		}
	}
	s.applyMessage(m, r, body, true)
	return http.StatusOK, s.messageJSON(m)
}

func (s *Server) createFollowup(r *Request, p params) (int, any) {
	body := r.Object()
	if body == nil {
		return errAnswer(http.StatusBadRequest, codeEmptyMessage, "Cannot send an empty message")
	}
	if st, ans, bad := checkMessage(body, len(r.Files), true); bad {
		return st, ans
	}
	m := &message{id: s.newID(), webhookID: p["app"], created: time.Now()}
	s.applyMessage(m, r, body, false)
	s.messages[m.id] = m
	s.followups[p["token"]] = append(s.followups[p["token"]], m)
	return http.StatusOK, s.messageJSON(m)
}

func (s *Server) interactionCallback(r *Request, p params) (int, any) {
	body := r.Object()
	if body == nil {
		return formError("type", "BASE_TYPE_REQUIRED", "This field is required")
	}
	typ, _ := body["type"].(float64)
	switch typ {
	case 1, 4, 5, 6, 7, 8, 9:
	default:
		return formError("type", "BASE_TYPE_CHOICES", "Value must be one of {1, 4, 5, 6, 7, 8, 9}.")
	}
	if _, done := s.callbacks[p["id"]]; done {
		return errAnswer(http.StatusBadRequest, codeAlreadyAcknowledge, "Interaction has already been acknowledged.")
	}
	data, _ := body["data"].(map[string]any)
	if typ == 4 || typ == 5 {
		if data == nil {
			data = map[string]any{}
		}
		if st, ans, bad := checkMessage(data, len(r.Files), typ == 4); bad {
			return st, ans
		}
		m := &message{id: s.newID(), webhookID: "", created: time.Now()}
		raw, _ := json.Marshal(data)
		s.applyMessage(m, &Request{JSON: raw, Files: r.Files}, data, false)
		s.originals[p["token"]] = m
		s.messages[m.id] = m
	}
	s.callbacks[p["id"]] = r
	return http.StatusNoContent, nil
}

func (s *Server) overwriteCommands(r *Request, p params) (int, any) {
	list, ok := r.Decoded.([]any)
	if !ok {
		return formError("_body", "BASE_TYPE_ARRAY", "Must be an array.")
	}
	key := p["app"] + "/" + p["guild"]
	old := s.commands[key]
	out := make([]map[string]any, 0, len(list))
	for i, v := range list {
		c, ok := v.(map[string]any)
		if !ok {
			return formError(fmt.Sprintf("%d", i), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
		}
		name, _ := c["name"].(string)
		if n := utf8.RuneCountInString(name); n < 1 || n > 32 {
			return formError(fmt.Sprintf("%d.name", i), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
		}
		typ, ok := c["type"].(float64)
		if !ok {
			typ = 1
		}
		cmd := map[string]any{}
		for k, v := range c {
			cmd[k] = v
		}
		cmd["type"] = typ
		cmd["application_id"] = p["app"]
		cmd["id"] = ""
		for _, o := range old {
			if o["name"] == name && o["type"] == typ {
				cmd["id"] = o["id"]
			}
		}
		if cmd["id"] == "" {
			cmd["id"] = s.newID()
		}
		cmd["version"] = s.newID()
		if g := p["guild"]; g != "" {
			cmd["guild_id"] = g
		}
		out = append(out, cmd)
	}
	s.commands[key] = out
	return http.StatusOK, out
}

// checkMessage applies Discord's message limits to a create (create=true:
// the message must not be empty) or an edit.
func checkMessage(body map[string]any, files int, create bool) (int, any, bool) {
	content, _ := body["content"].(string)
	if n := utf8.RuneCountInString(content); n > 2000 {
		st, ans := formError("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
		return st, ans, true
	}
	embeds, _ := body["embeds"].([]any)
	if len(embeds) > 10 {
		st, ans := formError("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
		return st, ans, true
	}
	total := 0
	for i, e := range embeds {
		em, _ := e.(map[string]any)
		for _, f := range []struct {
			field string
			max   int
			value any
		}{
			{"title", 256, em["title"]},
			{"description", 4096, em["description"]},
			{"author.name", 256, nested(em, "author", "name")},
			{"footer.text", 2048, nested(em, "footer", "text")},
		} {
			str, _ := f.value.(string)
			n := utf8.RuneCountInString(str)
			if n > f.max {
				st, ans := formError(fmt.Sprintf("embeds.%d.%s", i, f.field), "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", f.max))
				return st, ans, true
			}
			total += n
		}
	}
	if total > 6000 {
		st, ans := formError("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
		return st, ans, true
	}
	rows, _ := body["components"].([]any)
	if len(rows) > 5 {
		st, ans := formError("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
		return st, ans, true
	}
	for i, row := range rows {
		rm, _ := row.(map[string]any)
		cs, _ := rm["components"].([]any)
		if rm["type"] != float64(1) || len(cs) < 1 || len(cs) > 5 {
			st, ans := formError(fmt.Sprintf("components.%d", i), "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "An action row must hold 1 to 5 components.")
			return st, ans, true
		}
	}
	if files > 10 {
		st, ans := formError("files", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
		return st, ans, true
	}
	if am, ok := body["allowed_mentions"].(map[string]any); ok {
		parse, _ := am["parse"].([]any)
		roles, _ := am["roles"].([]any)
		for _, v := range parse {
			if v == "roles" && len(roles) > 0 {
				st, ans := formError("allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", `parse:["roles"] and roles: [ids] are mutually exclusive.`)
				return st, ans, true
			}
		}
	}
	if create && content == "" && len(embeds) == 0 && len(rows) == 0 && files == 0 {
		st, ans := errAnswer(http.StatusBadRequest, codeEmptyMessage, "Cannot send an empty message")
		return st, ans, true
	}
	return 0, nil, false
}

func nested(m map[string]any, a, b string) any {
	inner, _ := m[a].(map[string]any)
	return inner[b]
}

// applyMessage sets a message from a create (edit=false) or an edit: on an
// edit only the fields present change; files are added to the attachments,
// and an "attachments" list keeps only the existing attachments it names.
func (s *Server) applyMessage(m *message, r *Request, body map[string]any, edit bool) {
	raw := map[string]json.RawMessage{}
	_ = json.Unmarshal(r.JSON, &raw)
	has := func(k string) bool { _, ok := raw[k]; return ok }
	if !edit || has("content") {
		m.content, _ = body["content"].(string)
	}
	if !edit || has("embeds") {
		m.embeds = rawArray(raw["embeds"])
	}
	if !edit || has("components") {
		m.components = rawArray(raw["components"])
	}
	if has("allowed_mentions") {
		m.allowedMentions = append(json.RawMessage(nil), raw["allowed_mentions"]...)
	}
	if f, ok := body["flags"].(float64); ok {
		m.flags = int(f)
	}
	if edit {
		if list, ok := body["attachments"].([]any); ok {
			keep := map[string]bool{}
			for _, a := range list {
				am, _ := a.(map[string]any)
				if id, ok := am["id"].(string); ok {
					keep[id] = true
				}
			}
			var kept []File
			for _, f := range m.files {
				if keep[f.ID] {
					kept = append(kept, f)
				}
			}
			m.files = kept
		}
		m.edits++
		m.edited = time.Now()
	}
	for _, f := range r.Files {
		f.ID = s.newID()
		m.files = append(m.files, f)
	}
	m.lastJSON = append(json.RawMessage(nil), r.JSON...)
}

// rawArray returns a JSON array, or [] for null or a missing value.
func rawArray(v json.RawMessage) json.RawMessage {
	if len(v) == 0 || string(v) == "null" {
		return json.RawMessage("[]")
	}
	return append(json.RawMessage(nil), v...)
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000+00:00") }

// messageJSON is a message object as Discord answers it.
func (s *Server) messageJSON(m *message) map[string]any {
	atts := make([]map[string]any, 0, len(m.files))
	for _, f := range m.files {
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		ch := m.channelID
		if ch == "" {
			ch = "0"
		}
		atts = append(atts, map[string]any{
			"id":           f.ID,
			"filename":     f.Name,
			"size":         len(f.Data),
			"content_type": ct,
			"url":          "https://cdn.discordapp.com/attachments/" + ch + "/" + f.ID + "/" + f.Name,
			"proxy_url":    "https://media.discordapp.net/attachments/" + ch + "/" + f.ID + "/" + f.Name,
		})
	}
	var edited any
	if !m.edited.IsZero() {
		edited = timestamp(m.edited)
	}
	out := map[string]any{
		"id":               m.id,
		"type":             0,
		"channel_id":       m.channelID,
		"content":          m.content,
		"embeds":           rawArray(m.embeds),
		"components":       rawArray(m.components),
		"attachments":      atts,
		"author":           s.botUserJSON(),
		"timestamp":        timestamp(m.created),
		"edited_timestamp": edited,
		"tts":              false,
		"mention_everyone": false,
		"mentions":         []any{},
		"mention_roles":    []any{},
		"pinned":           false,
		"flags":            m.flags,
	}
	if m.webhookID != "" {
		out["webhook_id"] = m.webhookID
		out["application_id"] = m.webhookID
	}
	return out
}

// channelJSON is a channel object as Discord answers it.
func (s *Server) channelJSON(c *channel) map[string]any {
	out := map[string]any{
		"id":       c.id,
		"type":     c.typ,
		"guild_id": s.guildID,
		"name":     c.name,
		"flags":    0,
	}
	var last any
	if c.lastMessageID != "" {
		last = c.lastMessageID
	}
	out["last_message_id"] = last
	if isThread(c) {
		out["parent_id"] = c.parentID
		out["owner_id"] = c.owner
		out["rate_limit_per_user"] = 0
		out["message_count"] = len(c.messages)
		out["total_message_sent"] = len(c.messages)
		out["member_count"] = min(len(c.members), 50)
		out["thread_metadata"] = map[string]any{
			"archived":              c.archived,
			"auto_archive_duration": c.archiveDuration,
			"archive_timestamp":     timestamp(c.archivedAt),
			"locked":                c.locked,
			"invitable":             c.invitable,
			"create_timestamp":      timestamp(c.created),
		}
		if slices.Contains(c.members, s.botID) {
			out["member"] = map[string]any{"id": c.id, "user_id": s.botID, "join_timestamp": timestamp(c.created), "flags": 0}
		}
	}
	return out
}

// public returns a copy of m for the accessors.
func (m *message) public() Message {
	out := Message{
		ID:              m.id,
		ChannelID:       m.channelID,
		WebhookID:       m.webhookID,
		Content:         m.content,
		Flags:           m.flags,
		Files:           cloneFiles(m.files),
		Edits:           m.edits,
		AllowedMentions: append(json.RawMessage(nil), m.allowedMentions...),
		LastJSON:        append(json.RawMessage(nil), m.lastJSON...),
	}
	if m.allowedMentions == nil {
		out.AllowedMentions = nil
	}
	_ = json.Unmarshal(rawArray(m.embeds), &out.Embeds)
	_ = json.Unmarshal(rawArray(m.components), &out.Components)
	return out
}
