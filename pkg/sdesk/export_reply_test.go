package sdesk

// Exported for the black-box tests of replies.
var ReplyBodyWith = replyBodyWith
