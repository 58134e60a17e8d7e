package discord

import (
	"strings"
	"testing"

	disgo "github.com/disgoorg/disgo/discord"
)

// TestEmbedCDNLinkVariants: an embed's title link to Discord's CDN is left
// out of the note (signed links expire), however the host is written: in
// capitals, with :443, with a trailing dot.
func TestEmbedCDNLinkVariants(t *testing.T) {
	for _, u := range []string{
		"https://CDN.discordapp.com/attachments/1/2/a.png?ex=1&is=2&hm=3",
		"https://cdn.discordapp.com:443/attachments/1/2/a.png?ex=1&is=2&hm=3",
		"https://cdn.discordapp.com./attachments/1/2/a.png?ex=1&is=2&hm=3",
	} {
		got := embedText(disgo.Embed{Title: "Build log", URL: u})
		if strings.Contains(strings.ToLower(got), "discordapp") {
			t.Errorf("embed text keeps a CDN link: %q", got)
		}
	}
}
