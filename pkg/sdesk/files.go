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
	"sync"
	"time"

	"github.com/sdesk/sdesk/pkg/discordmd"
	"github.com/sdesk/sdesk/pkg/gfm"
)

// The outcome of one file of a report, as its job step "file:<n>"
// records it: "up <upload URL>" or one of these (no spaces: the step's
// value is split at the first one).
const (
	fileTooLarge = "too-large" // over SDESK_MAX_ATTACHMENT_MB (or GitLab's own limit)
	fileLost     = "lost"      // not downloaded: Discord no longer serves it (link expired, file deleted) or sdesk may not fetch it
	fileEmpty    = "empty"     // 0 bytes: nothing to upload
	fileFailed   = "failed"    // GitLab did not take it
)

// reportFile is one file of a report and what became of it.
type reportFile struct {
	Attachment
	State string // "up" or a file* state
	URL   string // the upload's project-relative URL when State is "up"
}

// threadFilesBudget is the most bytes of a report's files sdesk attaches
// to the thread's first message, in the form's order; the files after it
// stay on the issue only. Discord refuses a request over 25 MB, and a
// server's upload limit for bots is often lower (Discord answers 413, code
// 40005, handled in runReport); the budget also bounds what a job holds in
// memory.
const threadFilesBudget = 25 << 20

// filesReserve is the part of an attempt that copying files leaves for
// the rest of the report (issue, thread, messages); a third of what is
// left when that is less.
const filesReserve = 30 * time.Second

// uploadURLRE is the shape of an upload URL sdesk puts into a
// description: GitLab's "/uploads/<32 hex>/<filename>" with a file name
// sdesk chose (uploadName).
var uploadURLRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/uploads/[0-9a-f]{32}/[A-Za-z0-9._-]{1,120}$`) })

// copyFiles copies files a user attached from Discord to the GitLab
// project, each once per job (step prefix+"<n>"): downloaded while
// Discord's signed link is valid, at most the size limit, then uploaded.
// No file can sink the report it belongs to: one over the limit, an empty
// one, one Discord no longer serves or sdesk may not fetch, one GitLab
// refuses for good, and, on the job's last attempt, one that still fails,
// is recorded as such and named where the files are listed. Another
// failure fails the attempt, which a later one resumes. Each copy ends
// filesReserve (or a third of the time left) before the attempt's
// deadline, so a slow file leaves time for the report itself. The files
// downloaded by this attempt that fit threadFilesBudget are returned by
// index, for the thread's first message.
func (s *Service) copyFiles(ctx context.Context, j *Job, prefix string, files []Attachment, log *slog.Logger) ([]reportFile, map[int]File, error) {
	max := s.maxAttachmentBytes()
	out := make([]reportFile, len(files))
	data := map[int]File{}
	kept := int64(0)
	last := j.Attempts >= s.maxAttempts()
	for n, a := range files {
		v, err := s.step(ctx, j, prefix+strconv.Itoa(n), func() (string, error) {
			if a.Size > max {
				return fileTooLarge, nil
			}
			// A slow file must leave the attempt time for the report
			// itself: it gets the attempt's deadline less a reserve.
			fctx, cancel := ctx, context.CancelFunc(func() {})
			if dl, ok := ctx.Deadline(); ok {
				fctx, cancel = context.WithDeadline(ctx, dl.Add(-min(filesReserve, time.Until(dl)/3)))
			}
			state, f, err := s.copyFile(fctx, a, n, max)
			cancel()
			switch {
			case err == nil:
			case IsPermanent(err) || last && ctx.Err() == nil:
				log.Warn("a file from Discord was not copied to GitLab; it is named as not uploaded",
					slog.String("file", a.Filename), slog.String("error", err.Error()))
				return state, nil
			default:
				return "", err
			}
			if f.Data != nil && kept+int64(len(f.Data)) <= threadFilesBudget {
				kept += int64(len(f.Data))
				data[n] = f
			}
			return state, nil
		})
		if err != nil {
			return nil, nil, err
		}
		out[n] = reportFile{Attachment: a}
		out[n].State, out[n].URL, _ = strings.Cut(v, " ")
	}
	return out, data, nil
}

// copyFile downloads file n and uploads it. It returns the step's state
// ("up <url>", fileTooLarge, fileEmpty) and the file; with an error, the
// state to record if the error ends the file's chances (fileLost for the
// download, fileFailed for the upload).
func (s *Service) copyFile(ctx context.Context, a Attachment, n int, max int64) (string, File, error) {
	f, err := s.Discord.DownloadAttachment(ctx, a, max)
	switch {
	case errors.Is(err, ErrTooLarge):
		return fileTooLarge, File{}, nil
	case err != nil:
		return fileLost, File{}, fmt.Errorf("download %s: %w", a.Filename, err)
	case len(f.Data) == 0:
		// GitLab refuses an empty upload; there is nothing to show.
		return fileEmpty, File{}, nil
	}
	f.Name = uploadName(a.Filename, n)
	up, err := s.GitLab.UploadFile(ctx, f)
	switch {
	case errors.Is(err, ErrTooLarge):
		return fileTooLarge, File{}, nil
	case err != nil:
		return fileFailed, File{}, fmt.Errorf("upload %s: %w", a.Filename, err)
	case !uploadURLRE().MatchString(up.URL):
		return fileFailed, File{}, Permanent(fmt.Errorf("upload %s: GitLab answered the upload URL %q", a.Filename, up.URL),
			"GitLab's project uploads API answered an unexpected URL; please report this with the log line")
	}
	f.Name = path.Base(up.URL)
	return "up " + up.URL, f, nil
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
			fmt.Fprintf(&b, "\n- %s: not uploaded, %s\n", name, whyMissing[f.State])
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

// whyMissing says, in a user's words, why a file did not reach GitLab.
var whyMissing = map[string]string{
	fileLost:   "it could not be fetched from Discord",
	fileEmpty:  "the file is empty",
	fileFailed: "GitLab did not take it",
}

// Caps of missingFiles, so that its line always fits a message: each name
// is cut to maxMissingName runes (before escaping), and at most
// maxMissingNames names are listed, then "and N more".
const (
	maxMissingName  = 60
	maxMissingNames = MaxReportFiles
)

// missingFiles names, for Discord, the files of a report that did not
// reach GitLab, with why; "" when all did. Whatever the names, it is at
// most a few hundred characters: names are cut and escaped
// (discordmd.Text), and the list is capped.
func missingFiles(files []reportFile, max int64) string {
	var big, other []string
	more := 0
	for _, f := range files {
		if f.State == "up" {
			continue
		}
		if len(big)+len(other) == maxMissingNames {
			more++
			continue
		}
		name := discordmd.Text(Truncate(f.Filename, maxMissingName))
		if f.State == fileTooLarge {
			big = append(big, name)
		} else {
			other = append(other, name+" ("+whyMissing[f.State]+")")
		}
	}
	var parts []string
	if len(big) > 0 {
		parts = append(parts, fmt.Sprintf("Not uploaded, larger than the %s limit: %s.", sizeText(max), strings.Join(big, ", ")))
	}
	if len(other) > 0 {
		parts = append(parts, "Not uploaded: "+strings.Join(other, ", ")+".")
	}
	if more > 0 {
		parts = append(parts, fmt.Sprintf("And %d more.", more))
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
