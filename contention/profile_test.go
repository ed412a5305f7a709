package contention

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
	resp, err := http.Get("http://" + addr + "/profile")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
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
