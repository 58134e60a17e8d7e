package sdesk

import "fmt"

// Texts users see that are not about one flow. Every failure a user is
// told about goes through Apology, whether the interaction failed at once
// (the router) or its job failed for good (apologize): one wording, with
// the reference that ties it to the log line an operator reads.
const (
	// MsgUnsupported answers an interaction sdesk has no route for.
	MsgUnsupported = "This action is not supported."
	// MsgUnknownCommand answers a command sdesk no longer registers.
	MsgUnknownCommand = "This command is not known to sdesk any more. An admin can run `sdesk commands sync`."
)

// Apology is the message of a failure: ref is the error reference (NewRef)
// logged with it.
func Apology(ref string) string {
	return fmt.Sprintf("Sorry, that did not work. Please try again in a minute, or give staff this reference: `%s`.", ref)
}
