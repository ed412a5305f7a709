package contention

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/threadmon/threadmon/threading"
)

func newContendedLock(name string) *threading.Lock {
	return threading.NewLock(threading.WithName(name))
}

// /profile is a pprof profile with the contended class, that go tool pprof
// reads.
func TestProfile(t *testing.T) {
	name := uniqName("profiled")
	l := newContendedLock(name)
	for i := 0; i < 2; i++ {
		l.Acquire()
		th := spawn("profiled-waiter", func() error { l.Acquire(); return l.Release() })
		for l.Stats().Waiters == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(5 * time.Millisecond)
		_ = l.Release()
		_ = th.Join()
	}
	addr, stop, err := Serve("")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/profile?view=classes")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// A class's creation stack is kept while one of its primitives lives:
	// l, until the profile is taken.
	runtime.KeepAlive(l)
	p, err := profile.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var found *profile.Sample
	for _, s := range p.Sample {
		if len(s.Label["name"]) == 1 && s.Label["name"][0] == name {
			found = s
		}
	}
	if found == nil || found.Value[0] != 2 || found.Value[1] < int64(8*time.Millisecond) {
		t.Fatalf("sample %+v", found)
	}
	var funcs []string
	for _, loc := range found.Location {
		for _, ln := range loc.Line {
			funcs = append(funcs, ln.Function.Name)
		}
	}
	if !strings.Contains(strings.Join(funcs, " "), "newContendedLock") {
		t.Fatalf("creation stack %v", funcs)
	}
	file := filepath.Join(t.TempDir(), "contention.pb.gz")
	if err := os.WriteFile(file, body, 0o644); err != nil {
		t.Fatal(err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	out, err := exec.Command(goBin, "tool", "pprof", "-top", "-nodefraction=0", "-nodecount=100000", "-sample_index=contentions", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "newContendedLock") {
		t.Fatalf("go tool pprof: %v\n%s", err, out)
	}
}

// With wait stacks on, the waiters and releasers views carry the stacks of
// the waits and of the hand-offs; an unknown view is a 400.
func TestProfileViews(t *testing.T) {
	threading.SetWaitStackSampling(1)
	defer threading.SetWaitStackSampling(threading.DefaultWaitStackSampling)
	name := uniqName("viewed")
	l := newContendedLock(name)
	l.Acquire()
	th := spawn("view-waiter", func() error { waitHere(l); return l.Release() })
	for l.Stats().Waiters == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(5 * time.Millisecond)
	releaseHere(l)
	_ = th.Join()
	for view, fn := range map[string]string{ViewWaiters: "waitHere", ViewReleasers: "releaseHere"} {
		p, err := ProfileOf(view)
		if err != nil {
			t.Fatal(err)
		}
		ok := false
		for _, s := range p.Sample {
			if s.Label["name"][0] != name {
				continue
			}
			for _, loc := range s.Location {
				for _, ln := range loc.Line {
					ok = ok || strings.HasSuffix(ln.Function.Name, fn)
				}
			}
		}
		if !ok {
			t.Fatalf("view %s has no sample of %s at %s", view, name, fn)
		}
	}
	addr, stop, err := Serve("")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/profile?view=nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown view: %d", resp.StatusCode)
	}
}

//go:noinline
func waitHere(l *threading.Lock) { l.Acquire() }

//go:noinline
func releaseHere(l *threading.Lock) { _ = l.Release() }

// By default /profile is the waiters view, filled by threading's default
// stack sampling: where threads blocked, with no set-up.
func TestProfileDefaultIsWaiters(t *testing.T) {
	threading.SetWaitStackSampling(1) // every wait, so that one wait is enough
	defer threading.SetWaitStackSampling(threading.DefaultWaitStackSampling)
	name := uniqName("default-view")
	l := threading.NewLock(threading.WithName(name))
	l.Acquire()
	th := spawn("default-view-waiter", func() error { waitHere(l); return l.Release() })
	for l.Stats().Waiters == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(5 * time.Millisecond)
	_ = l.Release()
	_ = th.Join()
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/profile", nil))
	p, err := profile.Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Sample {
		if len(s.Label["name"]) == 1 && s.Label["name"][0] == name {
			for _, loc := range s.Location {
				for _, ln := range loc.Line {
					if strings.HasSuffix(ln.Function.Name, ".waitHere") {
						return
					}
				}
			}
		}
	}
	t.Fatal("the default view has no sample at the waiter's stack")
}
