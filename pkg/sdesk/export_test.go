package sdesk

// Exported for the black-box tests of the texts sdesk sends to GitLab.
var (
	IssueTitle       = issueTitle
	IssueDescription = issueDescription
	ReplyBody        = replyBody
	CloseNote        = closeNote
	JobIssue         = jobIssue
)
