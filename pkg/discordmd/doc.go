// Package discordmd is "Discord Markdown": text from GitLab as Discord
// shows it. Standard library and github.com/rivo/uniseg only.
//
//   - Render and RenderWith turn the GitLab Flavored Markdown of a note
//     (https://docs.gitlab.com/user/markdown/) into Discord markdown
//     (https://support.discord.com/hc/en-us/articles/210298617) that shows
//     what GitLab shows: code stays code, no link hides its target, no
//     mention pings, nothing Discord-only is live.
//   - Uploads lists the files a note links to (GitLab's
//     /uploads/<secret>/<file> links), for attaching them to the message.
//   - Text and PlainText escape one line of GitLab text (a name, a title, a
//     label) for a Discord field that renders markdown, or shows plain
//     text; Link shows a URL as itself.
//   - Split cuts a text into parts that fit Discord's message limits
//     (content 2000 characters, embed description 4096:
//     https://discord.com/developers/docs/resources/message#create-message).
//
// Split belongs to the Discord side, and it lives here, beside the
// converter, because it must repair the code that Render writes: a part
// is a message of its own, so a code block or span cut by a break is closed
// at the end of one part and opened again at the start of the next, with
// the same code rules (fence.go) by which Render writes code and the
// block parser reads GitLab's.
//
// Nothing here talks to Discord or GitLab; the functions are pure and safe
// for concurrent use. Text from GitLab is hostile input (anyone can write a
// note by e-mail through Service Desk): every function is linear or close to
// it in the length of its input, and the fuzz targets of the package's
// tests state the rules for any input.
package discordmd
