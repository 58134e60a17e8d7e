// Package bench measures sdesk against its physical floors, each pair side
// by side in one run so that ratios hold on a busy machine: a signed PING
// through the real handler against a bare ed25519.Verify, the modal-submit
// answer while GitLab is slow, the cold start of each Lambda bootstrap
// against a hello-world aws-lambda-go function built with the same flags,
// webhook events through `sdesk serve` with concurrent deliveries, and the
// bootstraps' sizes. `make bench` runs it (TestBench) and writes the table
// as JSON under bench/results/; `make load` runs the bounded load test
// (TestLoad). See docs/SCALING.md.
package bench
