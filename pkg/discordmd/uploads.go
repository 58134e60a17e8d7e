package discordmd

import (
	"net/url"
	"sort"
	"strings"
)

// UploadRef is a file uploaded to GitLab and linked from a note as
// /uploads/<Secret>/<Filename>, relative or under a project's path or ID
// (/-/project/<id>/uploads/...; the form GitLab's Markdown uploads take:
// https://docs.gitlab.com/api/project_markdown_uploads/). Secret is 32
// hexadecimal digits; Filename is URL-decoded (kept as written when it does
// not decode); Alt is the image's alt text or the link's text.
type UploadRef struct {
	Secret, Filename, Alt string
}

// Uploads lists the uploads that the markdown body links to, in order of
// appearance and without duplicates (same secret and filename). It looks at
// markdown links, images and reference definitions and at HTML <a href>,
// <img src> and <video src>, whose target is a relative /uploads/<32 hex
// digits>/<file> path or any path or absolute URL whose path ends that
// way: the project-path form (/acme/support/uploads/...) and the
// project-ID form of GitLab 17.2 and later (/-/project/4242/uploads/...)
// alike. Links in code blocks, code spans and HTML comments are ignored.
func Uploads(body string) []UploadRef {
	type hit struct {
		pos int
		ref UploadRef
	}
	var hits []hit
	add := func(pos int, target, alt string) {
		target = strings.TrimSpace(target)
		if len(target) >= 2 && target[0] == '<' && target[len(target)-1] == '>' {
			target = target[1 : len(target)-1]
		}
		m := noteUploadRe().FindStringSubmatch(decodeEntities(target))
		if m == nil {
			return
		}
		name, err := url.PathUnescape(m[2])
		if err != nil {
			name = m[2]
		}
		hits = append(hits, hit{pos, UploadRef{Secret: m[1], Filename: name, Alt: alt}})
	}
	offset := 0
	for _, b := range mdBlocks(body) {
		text := strings.Join(b.lines, "")
		if b.kind == mdProse || b.kind == mdTable {
			masked := noteMaskSpans(text)
			for _, loc := range noteLinkRe().FindAllStringSubmatchIndex(masked, -1) {
				label := masked[loc[4]:loc[5]]
				add(offset+loc[0], masked[loc[6]:loc[7]], noteLinkText(label))
				// An image inside a link's text: [![alt](img)](target).
				for _, in := range noteLinkRe().FindAllStringSubmatchIndex(label, -1) {
					add(offset+loc[4]+in[0], label[in[6]:in[7]], noteLinkText(label[in[4]:in[5]]))
				}
			}
			for _, loc := range noteRefDefRe().FindAllStringSubmatchIndex(masked, -1) {
				label := strings.TrimSpace(masked[loc[2]:loc[3]])
				label = strings.TrimSuffix(strings.TrimPrefix(label, "["), "]:")
				add(offset+loc[0], masked[loc[4]:loc[5]], strings.TrimSpace(label))
			}
			for _, loc := range noteAnchorRe().FindAllStringSubmatchIndex(masked, -1) {
				attrs := ""
				if loc[2] >= 0 {
					attrs = masked[loc[2]:loc[3]]
				}
				inner := decodeEntities(noteStripTags(masked[loc[4]:loc[5]]))
				add(offset+loc[0], noteAttr(attrs, "href"), strings.TrimSpace(inner))
			}
			for _, loc := range noteMediaRe().FindAllStringSubmatchIndex(masked, -1) {
				attrs := ""
				if loc[2] >= 0 {
					attrs = masked[loc[2]:loc[3]]
				}
				add(offset+loc[0], noteAttr(attrs, "src"), noteAttr(attrs, "alt"))
			}
		}
		offset += len(text)
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].pos < hits[j].pos })
	var refs []UploadRef
	seen := map[[2]string]bool{}
	for _, h := range hits {
		k := [2]string{h.ref.Secret, h.ref.Filename}
		if !seen[k] {
			seen[k] = true
			refs = append(refs, h.ref)
		}
	}
	return refs
}
