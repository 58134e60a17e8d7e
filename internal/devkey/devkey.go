// Package devkey holds the throwaway Ed25519 key that signs the sample
// interaction events in events/. Its public key is in events/env.json. It is
// for `sam local invoke` and tests only: never configure a real deployment
// with it.
package devkey

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Key is the development key pair, derived from a fixed, public seed.
var Key = func() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("sdesk development key - not a secret"))
	return ed25519.NewKeyFromSeed(seed[:])
}()

// PublicKeyHex is DISCORD_PUBLIC_KEY for the development key.
func PublicKeyHex() string {
	return hex.EncodeToString(Key.Public().(ed25519.PublicKey))
}

// Sign returns the X-Signature-Ed25519 and X-Signature-Timestamp headers
// Discord would send for body at time t.
func Sign(key ed25519.PrivateKey, body []byte, t time.Time) (signature, timestamp string) {
	timestamp = strconv.FormatInt(t.Unix(), 10)
	msg := append([]byte(timestamp), body...)
	return hex.EncodeToString(ed25519.Sign(key, msg)), timestamp
}
