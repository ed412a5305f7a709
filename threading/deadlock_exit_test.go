package threading_test

// Go's runtime ends a program whose goroutines are all blocked with "fatal
// error: all goroutines are asleep - deadlock!". A program that deadlocks
// on threadmon's primitives must get that too, which it cannot while
// package threading pulls in something (net/http, through zap) that keeps a
// goroutine or a timer alive.

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

const asleep = "fatal error: all goroutines are asleep - deadlock!"

func TestAllGoroutinesAsleep(t *testing.T) {
	goBin := goTool(t)
	bin := t.TempDir()
	// Built, then run, rather than go run: go run exits 1 whatever the
	// program's status, and killing go run would leave a hung program
	// behind.
	out, code, err := runCmd("", nil, 10*time.Minute, goBin, "build", "-o", bin+string(filepath.Separator),
		"./testdata/deadlock", "./testdata/deadlock_sync")
	if err != nil || code != 0 {
		t.Fatalf("go build: status %d, %v\n%s", code, err, out)
	}
	for _, c := range []struct{ name, prog string }{
		{"sync control", "deadlock_sync"},
		{"threadmon", "deadlock"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			const limit = 60 * time.Second
			start := time.Now()
			out, code, err := runCmd("", nil, limit, filepath.Join(bin, c.prog))
			if err != nil {
				t.Fatalf("testdata/%s: %v (Go's deadlock check did not fire); output:\n%s", c.prog, err, tailText(out, 3000))
			}
			if code != 2 || !strings.Contains(out, asleep) {
				t.Fatalf("testdata/%s: exit status %d, want 2 with %q; output:\n%s", c.prog, code, asleep, tailText(out, 3000))
			}
			t.Logf("testdata/%s: exit status 2, %q after %v", c.prog, asleep, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestThreadingDeps: package threading imports neither net/http nor zap.
func TestThreadingDeps(t *testing.T) {
	goBin := goTool(t)
	const pkg = "github.com/threadmon/threadmon/threading"
	out, code, err := runCmd("", nil, 5*time.Minute, goBin, "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", pkg)
	if err != nil || code != 0 {
		t.Fatalf("go list -deps %s: status %d, %v\n%s", pkg, code, err, out)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			imports[f[0]] = f[1:]
		}
	}
	if _, ok := imports[pkg]; !ok {
		t.Fatalf("go list -deps %s did not list the package itself:\n%s", pkg, out)
	}
	banned := func(p string) bool {
		return p == "net/http" || p == "go.uber.org/zap" || strings.HasPrefix(p, "go.uber.org/zap/")
	}
	var found []string
	for p := range imports {
		if banned(p) {
			found = append(found, p)
		}
	}
	if len(found) == 0 {
		return
	}
	for _, p := range []string{"net/http", "go.uber.org/zap"} {
		if chain := importChain(imports, pkg, p); chain != nil {
			t.Errorf("threading depends on %s: %s", p, strings.Join(chain, " -> "))
		}
	}
	sort.Strings(found)
	t.Logf("%d of the %d packages threading depends on are banned: %v", len(found), len(imports), found)
}

// importChain is a shortest import path from 'from' to 'to', or nil.
func importChain(imports map[string][]string, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == to {
			var chain []string
			for ; p != ""; p = prev[p] {
				chain = append([]string{p}, chain...)
			}
			return chain
		}
		for _, q := range imports[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	return nil
}
