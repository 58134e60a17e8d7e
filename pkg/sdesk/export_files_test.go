package sdesk

// Exported for the black-box tests of report files.
var (
	UploadName    = uploadName
	FilesMarkdown = func(names, types []string, states []string, max int64) string {
		files := make([]reportFile, len(names))
		for i := range names {
			files[i] = reportFile{Attachment: Attachment{Filename: names[i], ContentType: types[i], Size: max + 1}, State: states[i]}
			if states[i] == "up" {
				files[i].URL = "/uploads/0123456789abcdef0123456789abcdef/" + uploadName(names[i], i)
			}
		}
		return filesMarkdown(files, max)
	}
)
