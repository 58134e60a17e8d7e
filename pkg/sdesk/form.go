package sdesk

import (
	"errors"
	"fmt"
	"slices"
)

// The report form's file field (a File Upload component in the /report
// modal) takes at most MaxReportFiles files.
const MaxReportFiles = 5

// DefaultMaxAttachmentBytes is the largest file sdesk downloads from
// Discord and uploads to GitLab when SDESK_MAX_ATTACHMENT_MB is not set
// (25 MiB).
const DefaultMaxAttachmentBytes int64 = 25 << 20

// Category is one option of the report form's category select
// (SDESK_CATEGORIES, "Label=gitlab-label;..."). Discord shows Label; the
// option's value is GitLabLabel, which the report's issue gets besides
// GITLAB_ISSUE_LABELS. Both are 1 to 100 characters (Discord's select
// option limits).
type Category struct {
	Label       string
	GitLabLabel string
}

// Attachment is a file a Discord user attached: an entry of an
// interaction's resolved attachments (Discord's attachment object,
// https://discord.com/developers/docs/resources/message#attachment-object).
// URL is Discord's signed CDN link, valid for a limited time.
type Attachment struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	URL         string `json:"url"`
	ContentType string `json:"content_type,omitempty"`
	Size        int64  `json:"size"` // bytes, as Discord reports it
}

// maxAttachmentBytes is Service.MaxAttachmentBytes or its default.
func (s *Service) maxAttachmentBytes() int64 {
	if s.MaxAttachmentBytes > 0 {
		return s.MaxAttachmentBytes
	}
	return DefaultMaxAttachmentBytes
}

// checkForm refuses what the report form cannot have sent: a category
// that SDESK_CATEGORIES does not offer (a tampered submit), none while
// categories are offered, or more files than the form takes.
func (s *Service) checkForm(r ReportRequest) error {
	if _, ok := s.category(r.Category); r.Category != "" && !ok {
		return &UserError{Message: "Your report was not sent: that category is not offered here. Please use /report again."}
	}
	if r.Category == "" && len(s.Categories) > 0 {
		// The form's select is required; a form opened before categories
		// were configured lacks it.
		return &UserError{Message: "Your report was not sent: please choose a category. Use /report again to get the form with it."}
	}
	if len(r.Files) > MaxReportFiles {
		return &UserError{Message: fmt.Sprintf("Your report was not sent: it has %d files (at most %d).", len(r.Files), MaxReportFiles)}
	}
	return nil
}

// ErrTooLarge is matched (errors.Is) by the error of a download whose file
// is over the size limit it was given; nothing of it is kept.
var ErrTooLarge = errors.New("file is too large")

// Upload is a file uploaded to the GitLab project (project uploads API,
// POST /projects/:id/uploads, https://docs.gitlab.com/api/project_markdown_uploads/):
// it can be linked from any issue of the project, confidential ones too.
type Upload struct {
	// URL is the project-relative link GitLab returns,
	// "/uploads/<32 hex secret>/<filename>", as GitLab's own Markdown for
	// the upload uses it.
	URL string
	// Filename is the name GitLab stored the file under (the last path
	// segment of URL).
	Filename string
}

// category returns the offered category whose GitLab label is label.
func (s *Service) category(label string) (Category, bool) {
	i := slices.IndexFunc(s.Categories, func(c Category) bool { return c.GitLabLabel == label })
	if i < 0 {
		return Category{}, false
	}
	return s.Categories[i], true
}
