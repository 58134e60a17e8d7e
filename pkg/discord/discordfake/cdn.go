package discordfake

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// AttachmentsPath is where the fake's CDN serves attachments, on the
// fake's own host, as https://cdn.discordapp.com serves them:
// /attachments/<channel>/<attachment>/<filename>?ex=…&is=…&hm=…
const AttachmentsPath = "/attachments/"

// AttachmentLifetime is how long a new attachment link is valid (its ex
// parameter); Discord's links live about a day.
const AttachmentLifetime = 24 * time.Hour

// contentGone is the body Discord's CDN answers for a signed link that has
// expired or whose signature does not match ("This content is no longer
// available.", as reported in
// https://github.com/Zeptosec/Thermastore/issues/11 and
// https://github.com/denisnumb/discord-chat-mod/issues/23). That the
// status is 404 is an assumption: the reports do not give it.
const contentGone = "This content is no longer available."

// cdnState is the fake's CDN: the attachments users uploaded in modals.
type cdnState struct {
	channelID string // the channel of every attachment URL, made on first use
	key       []byte // signs the hm parameter
	files     map[string]*cdnFile
}

type cdnFile struct {
	id, channelID, filename, contentType string
	data                                 []byte
	ex, is, hm                           string
	expired                              bool
	downloads                            int
}

// rawAnswer is an answer that is not JSON: a file of the CDN, or its
// text/plain refusal.
type rawAnswer struct {
	contentType string
	data        []byte
}

// AddAttachment stores a file as Discord does when a user attaches it to a
// modal's File Upload component, and returns it as the interaction's
// resolved attachment would carry it
// (https://discord.com/developers/docs/resources/message#attachment-object):
// a new snowflake ID, filename as given, contentType, Size in bytes, and a
// signed URL on the fake's host shaped like Discord's
// (https://discord.com/developers/docs/reference#signed-attachment-cdn-urls):
//
//	<fake>/attachments/<channel>/<id>/<filename>?ex=<hex unix expiry>&is=<hex unix issue>&hm=<hex signature>&
//
// A GET on that URL (no authorization needed) answers 200 with the bytes,
// Content-Type (contentType, or sniffed when empty) and Content-Length,
// and counts a download (AttachmentDownloads). Anything else under
// /attachments/ (an unknown attachment, another channel or file name, a
// missing or changed ex, is or hm, a link after ExpireAttachments or past
// its ex) answers 404 text/plain "This content is no longer available."
// CDN requests are recorded like API requests (Requests, with the path
// /attachments/...), and FailNext and the other faults apply to them.
// AddAttachment panics on an empty filename, a test's own mistake.
func (s *Server) AddAttachment(filename, contentType string, data []byte) sdesk.Attachment {
	if filename == "" {
		panic("discordfake: AddAttachment: empty filename")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cdn.files == nil {
		s.cdn.files = map[string]*cdnFile{}
		s.cdn.key = make([]byte, 32)
		_, _ = rand.Read(s.cdn.key)
	}
	if s.cdn.channelID == "" {
		s.cdn.channelID = s.newID()
	}
	now := time.Now()
	f := &cdnFile{
		id: s.newID(), channelID: s.cdn.channelID, filename: filename, contentType: contentType,
		data: append([]byte(nil), data...),
		ex:   strconv.FormatInt(now.Add(AttachmentLifetime).Unix(), 16),
		is:   strconv.FormatInt(now.Unix(), 16),
	}
	mac := hmac.New(sha256.New, s.cdn.key)
	fmt.Fprintf(mac, "%s\x00%s\x00%s\x00%s\x00%s", f.channelID, f.id, f.filename, f.ex, f.is)
	f.hm = hex.EncodeToString(mac.Sum(nil))
	s.cdn.files[f.id] = f
	return sdesk.Attachment{
		ID:          f.id,
		Filename:    filename,
		URL:         s.srv.URL + AttachmentsPath + f.channelID + "/" + f.id + "/" + url.PathEscape(filename) + "?ex=" + f.ex + "&is=" + f.is + "&hm=" + f.hm + "&",
		ContentType: contentType,
		Size:        int64(len(data)),
	}
}

// ExpireAttachments makes the link of every attachment added so far answer
// 404 "This content is no longer available.", as Discord's CDN answers a
// signed link past its expiry. Attachments added later get valid links.
func (s *Server) ExpireAttachments() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.cdn.files {
		f.expired = true
	}
}

// AttachmentDownloads returns how many times an attachment's bytes were
// served (answers 200); refused requests are in Requests only.
func (s *Server) AttachmentDownloads(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.cdn.files[id]; ok {
		return f.downloads
	}
	return 0
}

// cdnGet answers a request outside the API base: an attachment of the CDN
// for GET /attachments/..., else ok is false. Called with s.mu held.
func (s *Server) cdnGet(r *Request) (status int, answer any, ok bool) {
	rest, found := strings.CutPrefix(r.Path, AttachmentsPath)
	if !found || r.Method != http.MethodGet {
		return 0, nil, false
	}
	gone := rawAnswer{contentType: "text/plain; charset=utf-8", data: []byte(contentGone)}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) != 3 {
		return http.StatusNotFound, gone, true
	}
	f, known := s.cdn.files[parts[1]]
	if !known || f.channelID != parts[0] || f.filename != parts[2] || f.expired ||
		r.Query.Get("ex") != f.ex || r.Query.Get("is") != f.is || !hmac.Equal([]byte(r.Query.Get("hm")), []byte(f.hm)) {
		return http.StatusNotFound, gone, true
	}
	if ex, err := strconv.ParseInt(f.ex, 16, 64); err != nil || time.Now().Unix() > ex {
		return http.StatusNotFound, gone, true
	}
	ct := f.contentType
	if ct == "" {
		ct = http.DetectContentType(f.data)
	}
	f.downloads++
	return http.StatusOK, rawAnswer{contentType: ct, data: append([]byte(nil), f.data...)}, true
}
