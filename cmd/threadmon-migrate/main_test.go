package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// repoRoot is the threadmon repository, two levels up.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// copySample copies testdata/sample into a temporary directory, its
// replace pointing at this repository.
func copySample(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "sample")
	src := filepath.Join("testdata", "sample")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	pointReplace(t, dst)
	return dst
}

// pointReplace makes dir's go.mod replace threadmon by this repository.
func pointReplace(t *testing.T, dir string) {
	t.Helper()
	gomod := filepath.Join(dir, "go.mod")
	b, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^replace github.com/threadmon/threadmon => .*$`)
	if !re.Match(b) {
		t.Fatalf("%s has no replace of threadmon", gomod)
	}
	b = re.ReplaceAll(b, []byte("replace github.com/threadmon/threadmon => "+repoRoot(t)))
	if err := os.WriteFile(gomod, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeModule writes a module like the sample's (same requirements) with
// the given files.
func writeModule(t *testing.T, module string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mod")
	gomod, err := os.ReadFile(filepath.Join("testdata", "sample", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	gosum, err := os.ReadFile(filepath.Join("testdata", "sample", "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	files["go.mod"] = strings.Replace(string(gomod), "module example.com/sample", "module "+module, 1)
	files["go.sum"] = string(gosum)
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pointReplace(t, dir)
	return dir
}

func runTool(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = runMain(args, &o, &e)
	return o.String(), e.String(), code
}

// goCmd runs the go command in dir, resolving modules from go.mod and the
// module cache.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

func readFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The sample module: the diff leaves the files alone and, applied, gives
// what -w writes; the rewritten module builds and passes its tests, without
// sync where nothing else of sync is used; a second run changes nothing.
func TestSample(t *testing.T) {
	dir := copySample(t)
	orig := readFiles(t, dir)

	diff, stderr, code := runTool(dir + "/...")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if got := readFiles(t, dir); fmt.Sprint(got) != fmt.Sprint(orig) {
		t.Fatal("the diff mode changed files")
	}
	for _, want := range []string{"*Account gains the String method", "exported sample.Account.Mutex changes", "exported guard.With changes"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("no note %q in\n%s", want, stderr)
		}
	}

	if _, stderr, code := runTool("-w", dir+"/..."); code != 0 {
		t.Fatalf("-w: exit %d\n%s", code, stderr)
	}
	written := readFiles(t, dir)
	patched := applyDiff(t, orig, diff)
	for name, text := range written {
		if patched[name] != text {
			t.Errorf("%s: the diff applied gives\n%s\nbut -w wrote\n%s", name, patched[name], text)
		}
	}
	leftover := regexp.MustCompile(`\b(sync|gosync)\.(Mutex|RWMutex|Cond|WaitGroup|Once|OnceFunc|OnceValue|OnceValues|NewCond)\b|errgroup\.`)
	imports := regexp.MustCompile(`(?m)^\s*(?:\w+ )?"(sync|golang.org/x/sync/errgroup|github.com/threadmon/threadmon/threading)"`)
	for name, text := range written {
		var got []string
		for _, m := range imports.FindAllStringSubmatch(text, -1) {
			got = append(got, m[1])
		}
		want := []string{"github.com/threadmon/threadmon/threading"}
		if name == "cache.go" {
			want = []string{"sync", "github.com/threadmon/threadmon/threading"} // sync.Map stays
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s imports %v, want %v", name, got, want)
		}
		for _, l := range strings.Split(text, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "//") && leftover.MatchString(l) {
				t.Errorf("%s still uses sync or errgroup: %s", name, l)
			}
		}
	}
	for _, want := range []string{"threading.NewCond(&q.mu)", "threading.GroupWithContext(ctx)", "new(threading.WaitGroup)", "threading.OnceValue(", `"sync/atomic"`} {
		if !strings.Contains(strings.Join(mapValues(written), "\n"), want) {
			t.Errorf("no %s in the rewritten sample", want)
		}
	}

	goCmd(t, dir, "build", "./...")
	goCmd(t, dir, "vet", "./...")
	goCmd(t, dir, "test", "-count=1", "./...")

	if out, stderr, code := runTool(dir + "/..."); code != 0 || out != "" {
		t.Fatalf("second run: exit %d, diff\n%s\n%s", code, out, stderr)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// What cannot be converted safely is left alone, with the reason; the rest
// is converted, and builds.
func TestRefusals(t *testing.T) {
	dir := writeModule(t, "example.com/refuse", map[string]string{
		"a/cond.go": `package a

import "sync"

func Signal() {
	var mu sync.Mutex
	c := sync.Cond{L: &mu}
	c.Signal()
}
`,
		"a/jobs.go": `package a

import "sync"

type Jobs struct {
	mu   sync.Mutex
	cond *sync.Cond
	wg   *sync.WaitGroup
}

func NewJobs() *Jobs {
	j := &Jobs{wg: new(sync.WaitGroup)}
	j.cond = &sync.Cond{L: &j.mu}
	return j
}
`,
		"a/state.go": `package a

import "sync"

type State struct {
	mu sync.Mutex
	n  int
}
`,
		"a/use.go": `package a

import "example.com/refuse/ext"

func Hold(s *State) { ext.Hold(&s.mu) }
`,
		"a/assert.go": `package a

import "sync"

func IsMutex(x any) bool {
	_, ok := x.(*sync.Mutex)
	return ok
}
`,
		"ext/ext.go": `package ext

import "sync"

func Hold(mu *sync.Mutex) {
	mu.Lock()
	mu.Unlock()
}
`,
	})
	orig := readFiles(t, dir)

	diff, stderr, code := runTool("-name", filepath.Join(dir, "a"))
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	for _, want := range []string{
		"a/cond.go:7:7: sync.Cond{...} is a Cond value: threading.Cond must be made by threading.NewCond (its zero value panics on use)",
		"(left unchanged: cond.go)",
		"a/use.go:5:32: once converted: cannot use &s.mu (value of type *threading.Mutex) as",
		"in argument to ext.Hold (left unchanged: state.go)",
		"a/assert.go:6:15: type assertion to a type with sync.Mutex",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, want := range []string{
		`+	j := &Jobs{wg: threading.NewWaitGroup(threading.WithName("Jobs.wg"))}`,
		`+	j.cond = threading.NewCond(&j.mu, threading.WithName("Jobs.cond"))`,
	} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	for _, name := range []string{"cond.go", "state.go", "assert.go", "use.go"} {
		if strings.Contains(diff, "a/"+name) {
			t.Errorf("diff changes %s:\n%s", name, diff)
		}
	}

	if _, stderr, code := runTool("-w", filepath.Join(dir, "a")); code != 1 {
		t.Fatalf("-w: exit %d, want 1\n%s", code, stderr)
	}
	got := readFiles(t, dir)
	for name, text := range orig {
		changed := got[name] != text
		if changed != (name == "a/jobs.go") {
			t.Errorf("%s changed: %v\n%s", name, changed, got[name])
		}
	}
	if !strings.Contains(got["a/jobs.go"], "j.cond = threading.NewCond(&j.mu)") {
		t.Errorf("jobs.go:\n%s", got["a/jobs.go"])
	}
	goCmd(t, dir, "build", "./...")
}

// A module that cannot import threading is told to get it.
func TestNeedsThreading(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plain")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/plain\n\ngo 1.26.0\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "p.go"), []byte("package p\n\nimport \"sync\"\n\nvar mu sync.Mutex\n"), 0o644)
	_, stderr, code := runTool(dir)
	if code != 2 || !strings.Contains(stderr, "go get github.com/threadmon/threadmon/threading") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
}

func TestUnifiedDiff(t *testing.T) {
	cases := [][2]string{
		{"", "a\n"},
		{"a\n", ""},
		{"a\nb\nc\n", "a\nB\nc\n"},
		{"a\nb", "a\nb\n"},
		{"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n", "0\n1\n2\n3\n4\n5\nsix\n7\n8\n9\n10\n11\n12\n13\n14\n16\n17\n"},
		{"x\ny\nx\ny\nx\n", "y\nx\ny\ny\nx\nx\n"},
	}
	for i, c := range cases {
		d := unifiedDiff("f.orig", "f", []byte(c[0]), []byte(c[1]))
		got := applyDiff(t, map[string]string{"f": c[0]}, string(d))["f"]
		if got != c[1] {
			t.Errorf("case %d: diff\n%s\napplied gives %q, want %q", i, d, got, c[1])
		}
	}
	if d := unifiedDiff("f.orig", "f", []byte("same\n"), []byte("same\n")); d != nil {
		t.Errorf("equal texts give %q", d)
	}
}

// applyDiff applies a unified diff to the files of orig (named relative to
// it; the diff may name them by absolute path).
func applyDiff(t *testing.T, orig map[string]string, diff string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range orig {
		out[k] = v
	}
	lines := splitLines([]byte(diff))
	hunk := regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@`)
	var name string
	var src, dst []string
	var at int
	flush := func() {
		if name == "" {
			return
		}
		dst = append(dst, src[at:]...)
		out[name] = strings.Join(dst, "")
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "--- "):
			flush()
			next := strings.TrimSpace(strings.TrimPrefix(lines[i+1], "+++ "))
			i++
			name = ""
			for k := range orig {
				if next == k || strings.HasSuffix(next, "/"+k) {
					name = k
				}
			}
			if name == "" {
				t.Fatalf("diff names %s, not a file of %v", next, mapKeys(orig))
			}
			src, dst, at = splitLines([]byte(orig[name])), nil, 0
		case hunk.MatchString(l):
			m := hunk.FindStringSubmatch(l)
			start, _ := strconv.Atoi(m[1])
			if m[2] != "0" {
				start--
			}
			dst = append(dst, src[at:start]...)
			at = start
		case strings.HasPrefix(l, `\ No newline`):
			last := &dst[len(dst)-1]
			if strings.HasPrefix(lines[i-1], "-") {
				continue
			}
			*last = strings.TrimSuffix(*last, "\n")
		case strings.HasPrefix(l, " "), strings.HasPrefix(l, "-"):
			if at >= len(src) || strings.TrimSuffix(src[at], "\n") != strings.TrimSuffix(l[1:], "\n") {
				t.Fatalf("diff line %q does not match %q", l, src[min(at, len(src)-1)])
			}
			if l[0] == ' ' {
				dst = append(dst, src[at])
			}
			at++
		case strings.HasPrefix(l, "+"):
			dst = append(dst, l[1:])
		}
	}
	flush()
	return out
}

func mapKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
