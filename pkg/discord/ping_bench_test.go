package discord_test

import (
	"context"
	"testing"
)

// BenchmarkInteractPing: the router's work on a verified PING.
func BenchmarkInteractPing(b *testing.B) {
	e := newRouter(b, nil)
	body := []byte(`{"id":"1300000000000000001","application_id":"1200000000000000001","type":1,"token":"t","version":1}`)
	for b.Loop() {
		if r := e.router.Interact(context.Background(), body); r.Type != 1 {
			b.Fatal(r.Type)
		}
	}
}
