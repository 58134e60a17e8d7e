package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
)

// Build is a `go build` of one main package of the module.
type Build struct {
	Pkg    string // e.g. ./functions/interactions
	Out    string // output file
	GOOS   string // "" for linux
	GOARCH string // "" for this machine's
	// Stripped builds as the Makefile's LAMBDA_BUILD does: CGO_ENABLED=0,
	// -tags lambda.norpc, -trimpath, -ldflags='-s -w'. Without it the
	// binary keeps its symbol table (for go tool nm) and is otherwise the
	// same.
	Stripped bool
	// Lambda adds -tags lambda.norpc and CGO_ENABLED=0 (implied by
	// Stripped).
	Lambda bool
}

// Run builds b in the module at dir with the go command goBin.
func (b Build) Run(ctx context.Context, goBin, dir string) error {
	goos, goarch := b.GOOS, b.GOARCH
	if goos == "" {
		goos = "linux"
	}
	if goarch == "" {
		goarch = runtime.GOARCH
	}
	args := []string{"build", "-trimpath"}
	if b.Lambda || b.Stripped {
		args = append(args, "-tags", "lambda.norpc")
	}
	if b.Stripped {
		args = append(args, "-ldflags=-s -w")
	}
	args = append(args, "-o", b.Out, b.Pkg)
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %v (GOOS=%s GOARCH=%s): %w\n%s", args, goos, goarch, err, out.Bytes())
	}
	return nil
}
