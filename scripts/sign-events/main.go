// Command sign-events re-signs events/interactions-ping.json with the
// development key and the current time, so `sam local invoke` passes the
// signature and 5-minute freshness checks. Run it with `make events`.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/sdesk/sdesk/internal/devkey"
)

func main() {
	const path = "events/interactions-ping.json"
	if err := run(path); err != nil {
		fmt.Fprintln(os.Stderr, "sign-events:", err)
		os.Exit(1)
	}
	fmt.Println("signed", path, "- valid for 5 minutes")
}

func run(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	body, _ := ev["body"].(string)
	headers, _ := ev["headers"].(map[string]any)
	if body == "" || headers == nil {
		return fmt.Errorf("%s: want an HTTP API event with body and headers", path)
	}
	sig, ts := devkey.Sign(devkey.Key, []byte(body), time.Now())
	headers["x-signature-ed25519"] = sig
	headers["x-signature-timestamp"] = ts
	out, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}
