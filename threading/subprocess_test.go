package threading_test

// Helpers for the tests that run a child process: this test binary again
// (synctest), a program under -race, a program that must die of Go's
// "all goroutines are asleep" check, and go list.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// goTool is the go command (go test puts GOROOT/bin first in PATH).
func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	return p
}

// runCmd runs name with args in dir (the package directory if ""), with env
// added, and kills it (and stops waiting for its output) after timeout.
// It returns the combined output, the exit status (-1 when it did not exit
// by itself) and an error for a kill or a failure to start.
func runCmd(dir string, env []string, timeout time.Duration, name string, args ...string) (string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	if ctx.Err() != nil {
		return buf.String(), -1, fmt.Errorf("killed after %v", timeout)
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return buf.String(), 0, nil
	case errors.As(err, &exit):
		return buf.String(), exit.ExitCode(), nil
	default:
		return buf.String(), -1, err
	}
}

// noRaceExitSleep stops a -race binary from sleeping 1 s at exit.
func noRaceExitSleep() string {
	return "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

// runSelf runs this test binary again for the tests matching run, with env
// added, and kills it after timeout.
func runSelf(t *testing.T, run, env string, timeout time.Duration) (string, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, code, err := runCmd("", []string{env, noRaceExitSleep()}, timeout, exe,
		"-test.run="+run, "-test.v", "-test.count=1", fmt.Sprintf("-test.timeout=%v", timeout-10*time.Second))
	if err == nil && code != 0 {
		err = fmt.Errorf("exit status %d", code)
	}
	return out, err
}

var testErrorLine = regexp.MustCompile(`^\s+\w+_test\.go:\d+: `)

// keyLines picks the lines that say what went wrong.
func keyLines(out string) string {
	var keys []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "fatal error:") || strings.HasPrefix(line, "panic:") ||
			strings.Contains(line, "--- FAIL") || testErrorLine.MatchString(line) ||
			strings.HasPrefix(line, "WARNING: DATA RACE") {
			keys = append(keys, line)
		}
		if len(keys) == 20 {
			break
		}
	}
	return strings.Join(keys, "\n")
}

func tailText(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
