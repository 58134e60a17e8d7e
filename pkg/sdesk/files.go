package sdesk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/sdesk/sdesk/pkg/discordmd"
	"github.com/sdesk/sdesk/pkg/gfm"
)

// The outcome of one file of a report, as its job step "file:<n>"
// records it: "up <upload URL>", fileTooLarge or fileLost.
const (
	fileTooLarge = "too-large" // over SDESK_MAX_ATTACHMENT_MB (or GitLab's own limit)
	fileLost     = "lost"      // Discord no longer serves it (link expired or file deleted)
)

// reportFile is one file of a report and what became of it.
type reportFile struct {
	Attachment
	State string // "up", fileTooLarge or fileLost
	URL   string // the upload's project-relative URL when State is "up"
}

// threadFilesBudget is the most bytes of a report's files sdesk attaches
// to the thread's first message, in the form's order; the files after it
// stay on the issue only. Discord refuses a request over 25 MB, and a
// server's upload limit for bots is often lower (Discord answers 413, code
// 40005, handled in runReport); the budget also bounds what a job holds in
// memory.
const threadFilesBudget = 25 << 20

// uploadURLRE is the shape of an upload URL sdesk puts into a
// description: GitLab's "/uploads/<32 hex>/<filename>" with a file name
// sdesk chose (uploadName).
var uploadURLRE = regexp.MustCompile(`^/uploads/[0-9a-f]{32}/[A-Za-z0-9._-]{1,120}$`)

// reportFiles copies each file of a report from Discord to the GitLab
// project, once per job (step "file:<n>"): downloaded while Discord's
// signed link is valid, at most the size limit, then uploaded. A file over
// the limit, or one Discord no longer serves, is recorded as such and
// named in the description; any other failure fails the attempt, which a
// later one resumes. The files downloaded by this attempt that fit
// threadFilesBudget are returned by index, for the thread's first message.
func (s *Service) reportFiles(ctx context.Context, j *Job, r ReportRequest, log *slog.Logger) ([]reportFile, map[int]File, error) {
	max := s.maxAttachmentBytes()
	out := make([]reportFile, len(r.Files))
	data := map[int]File{}
	kept := int64(0)
	for n, a := range r.Files {
		v, err := s.step(ctx, j, "file:"+strconv.Itoa(n), func() (string, error) {
			if a.Size > max {
				return fileTooLarge, nil
			}
			f, err := s.Discord.DownloadAttachment(ctx, a, max)
			switch {
			case errors.Is(err, ErrTooLarge):
				return fileTooLarge, nil
			case IsPermanent(err):
				log.Warn("a report's file could not be downloaded from Discord; it is named in the issue as missing",
					slog.String("file", a.Filename), slog.String("error", err.Error()))
				return fileLost, nil
			case err != nil:
				return "", fmt.Errorf("download %s: %w", a.Filename, err)
			}
			f.Name = uploadName(a.Filename, n)
			up, err := s.GitLab.UploadFile(ctx, f)
			switch {
			case errors.Is(err, ErrTooLarge):
				return fileTooLarge, nil
			case err != nil:
				return "", fmt.Errorf("upload %s: %w", a.Filename, err)
			case !uploadURLRE.MatchString(up.URL):
				return "", Permanent(fmt.Errorf("upload %s: GitLab answered the upload URL %q", a.Filename, up.URL),
					"GitLab's project uploads API answered an unexpected URL; please report this with the log line")
			}
			f.Name = path.Base(up.URL)
			if kept+int64(len(f.Data)) <= threadFilesBudget {
				kept += int64(len(f.Data))
				data[n] = f
			}
			return "up " + up.URL, nil
		})
		if err != nil {
			return nil, nil, err
		}
		out[n] = reportFile{Attachment: a}
		out[n].State, out[n].URL, _ = strings.Cut(v, " ")
	}
	return out, data, nil
}

// uploadName is the name a report's file n is uploaded under: the
// Discord file name with every character outside [A-Za-z0-9._-] replaced
// by '_', at most 100 bytes, keeping the extension; "file-<n+1>" plus the
// extension when nothing usable is left or when the name alone would
// break a gfm rule (a "GL-12.log" is a reference in GitLab), so the
// upload's URL can go into a description as it is.
func uploadName(name string, n int) string {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, path.Base(strings.ReplaceAll(name, "\\", "/")))
	ext := path.Ext(clean)
	if len(ext) < 2 || len(ext) > 11 || strings.Trim(ext[1:], "_-") != ext[1:] {
		ext = ""
	}
	stem := strings.Trim(strings.TrimSuffix(clean, ext), "._-")
	if len(stem)+len(ext) > 100 {
		stem = strings.TrimRight(stem[:100-len(ext)], "._-")
	}
	out := stem + ext
	if !strings.ContainsFunc(stem, func(r rune) bool { return r != '_' && r != '.' && r != '-' }) ||
		gfm.Check(out) != nil || gfm.Check("x"+out) != nil {
		out = "file-" + strconv.Itoa(n+1) + ext
		if gfm.Check(out) != nil {
			out = "file-" + strconv.Itoa(n+1)
		}
	}
	return out
}

// imageTypes are the content types GitLab shows inline when linked as an
// image (![name](url)).
var imageTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// filesMarkdown is the "Files" part of a report's description: each
// uploaded file embedded (an image) or linked, each other one named with
// why it is missing. Names are gfm.Inline text; URLs have uploadURLRE's
// shape. "" when the report has no files.
func filesMarkdown(files []reportFile, max int64) string {
	if len(files) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("**Files from Discord**\n")
	for n, f := range files {
		name := gfm.Inline(f.Filename)
		if name == "" {
			name = "file " + strconv.Itoa(n+1)
		}
		switch f.State {
		case "up":
			if imageTypes[strings.ToLower(strings.TrimSpace(strings.Split(f.ContentType, ";")[0]))] {
				fmt.Fprintf(&b, "\n- %s\n\n  ![%s](%s)\n", name, name, f.URL)
			} else {
				fmt.Fprintf(&b, "\n- [%s](%s)\n", name, f.URL)
			}
		case fileTooLarge:
			fmt.Fprintf(&b, "\n- %s (%s): not uploaded, larger than the %s limit\n", name, sizeText(f.Size), sizeText(max))
		default:
			fmt.Fprintf(&b, "\n- %s: not uploaded, Discord no longer had the file\n", name)
		}
	}
	return b.String()
}

// sizeText writes a size in bytes as MiB with one decimal ("25.0 MB"), or
// in KB below 1 MiB.
func sizeText(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KB", (n+1023)/1024)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// missingFiles names, for Discord, the files of a report that did not
// reach GitLab, with why; "" when all did.
func missingFiles(files []reportFile, max int64) string {
	var big, lost []string
	for _, f := range files {
		switch f.State {
		case fileTooLarge:
			big = append(big, discordmd.Text(f.Filename))
		case fileLost:
			lost = append(lost, discordmd.Text(f.Filename))
		}
	}
	var parts []string
	if len(big) > 0 {
		parts = append(parts, fmt.Sprintf("Not uploaded, larger than the %s limit: %s.", sizeText(max), strings.Join(big, ", ")))
	}
	if len(lost) > 0 {
		parts = append(parts, "Not uploaded, Discord no longer had them: "+strings.Join(lost, ", ")+".")
	}
	return strings.Join(parts, " ")
}

// messageFiles returns the uploaded files of a report for the thread's
// first message, in order while they fit threadFilesBudget: those this
// attempt downloaded, the others fetched back from GitLab. It also
// returns how many uploaded files were left out, which the issue has. A
// file that cannot be fetched is left out too; only a context error stops.
func (s *Service) messageFiles(ctx context.Context, files []reportFile, have map[int]File) ([]File, int, error) {
	var out []File
	kept, left := int64(0), 0
	for n, f := range files {
		if f.State != "up" {
			continue
		}
		if kept+f.Size > threadFilesBudget {
			left++
			continue
		}
		if d, ok := have[n]; ok {
			kept += int64(len(d.Data))
			out = append(out, d)
			continue
		}
		rest := strings.TrimPrefix(f.URL, "/uploads/")
		secret, name, _ := strings.Cut(rest, "/")
		d, err := s.GitLab.DownloadUpload(ctx, secret, name)
		if err != nil {
			if ctx.Err() != nil {
				return nil, 0, err
			}
			s.log().Warn("a report's file could not be fetched back from GitLab for the thread; it stays on the issue",
				slog.String("file", f.URL), slog.String("error", err.Error()))
			left++
			continue
		}
		d.Name = name
		kept += int64(len(d.Data))
		out = append(out, d)
	}
	return out, left, nil
}
