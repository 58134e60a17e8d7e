package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Serve is `sdesk serve` running as a child process, so that its own
// memory can be read.
type Serve struct {
	// URL is its base URL, http://127.0.0.1:port.
	URL string

	cmd    *exec.Cmd
	exited chan struct{}
	err    error // set before exited closes
	stderr *tail
}

// StartServe runs binary (a build of ./cmd/sdesk) as `sdesk serve` with
// exactly env (plus PATH and HOME), SDESK_ADDR set to a free loopback
// port, in an empty working directory (no .env), and waits at most
// timeout for its "sdesk serving" log line, which gives the address. Its JSON log is read and dropped, the last 1 MiB kept
// for errors.
func StartServe(ctx context.Context, binary string, env map[string]string, timeout time.Duration) (*Serve, error) {
	cmd := exec.Command(binary, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "SDESK_ADDR" {
			cmd.Env = append(cmd.Env, k+"="+env[k])
		}
	}
	cmd.Env = append(cmd.Env, "SDESK_ADDR=127.0.0.1:0")
	// An empty working directory: no .env is read but env.
	dir, err := os.MkdirTemp("", "sdesk-serve-")
	if err != nil {
		return nil, fmt.Errorf("working directory: %w", err)
	}
	cmd.Dir = dir
	pipe, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s serve: %w", binary, err)
	}
	s := &Serve{cmd: cmd, exited: make(chan struct{}), stderr: &tail{max: maxStderr}}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		found := false
		for sc.Scan() {
			line := sc.Bytes()
			if !found {
				var l struct {
					Msg  string `json:"msg"`
					Addr string `json:"addr"`
				}
				if json.Unmarshal(line, &l) == nil && l.Msg == "sdesk serving" {
					found = true
					addr <- l.Addr
				}
			}
			s.stderr.add(line)
		}
		_, _ = io.Copy(io.Discard, pipe)
		s.err = cmd.Wait()
		os.RemoveAll(dir)
		close(s.exited)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case a := <-addr:
		s.URL = "http://" + a
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("sdesk serve ended at start (%v): %s", s.err, lastLines(s.stderr.Bytes(), 5))
	case <-timer.C:
	case <-ctx.Done():
	}
	_ = cmd.Process.Kill()
	<-s.exited
	return nil, fmt.Errorf("sdesk serve did not start within %s: %s", timeout, lastLines(s.stderr.Bytes(), 5))
}

// PeakRSS is the process's peak resident set size in bytes (VmHWM in
// /proc/<pid>/status, Linux).
func (s *Serve) PeakRSS() (int64, error) {
	return PeakRSS(s.cmd.Process.Pid)
}

// Log is the end of the process's log.
func (s *Serve) Log() string { return string(s.stderr.Bytes()) }

// Stop sends SIGTERM (sdesk serve drains and stops) and waits at most
// 15 s, then kills it.
func (s *Serve) Stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return errors.New("sdesk serve did not stop within 15 s of SIGTERM: killed")
	}
	var ee *exec.ExitError
	if s.err != nil && !errors.As(s.err, &ee) {
		return s.err
	}
	return nil
}

// Kill ends the process at once.
func (s *Serve) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// PeakRSS reads VmHWM, in bytes, from /proc/<pid>/status.
func PeakRSS(pid int) (int64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	return parseVmHWM(raw)
}

func parseVmHWM(status []byte) (int64, error) {
	for _, line := range strings.Split(string(status), "\n") {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmHWM line %q: want <n> kB", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("VmHWM line %q: bad number", line)
		}
		return kb * 1024, nil
	}
	return 0, errors.New("no VmHWM line in /proc/<pid>/status")
}

// tail keeps the last lines of a log, at most max bytes.
type tail struct {
	mu    sync.Mutex
	max   int
	lines [][]byte
	n     int
}

func (t *tail) add(line []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, append([]byte(nil), line...))
	t.n += len(line) + 1
	for t.n > t.max && len(t.lines) > 1 {
		t.n -= len(t.lines[0]) + 1
		t.lines = t.lines[1:]
	}
}

// Bytes is the kept lines, newline-terminated.
func (t *tail) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b []byte
	for _, l := range t.lines {
		b = append(append(b, l...), '\n')
	}
	return b
}
