package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadmon/threadmon/contention"
	"github.com/threadmon/threadmon/threading"
)

// chromium returns the path of a headless Chromium, or skips the test (it
// fails under CI, whose .ci/run installs Debian's chromium).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; .ci/run installs Debian's chromium")
	}
	t.Skip("chromium not installed")
	return ""
}

func headless(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=1400,1400", "--virtual-time-budget=5000"}
	out, err := exec.CommandContext(ctx, bin, append(base, args...)...).Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return string(out)
}

// The page, in a real headless browser, against the demo: it waits for the
// philosophers' deadlock to show, checks what an on-call engineer reads, that
// a hostile thread name is shown as text, and saves a screenshot
// ($THREADMON_SCREENSHOT, or the test's temporary folder).
func TestPageInBrowser(t *testing.T) {
	bin := chromium(t)
	old := deadlockAfter
	deadlockAfter = 300 * time.Millisecond
	defer func() { deadlockAfter = old }()
	base := serve(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	w := startDemo(ctx)
	defer func() {
		cancel()
		w.stop()
	}()
	// A thread whose name is markup, waiting on a lock whose name is markup.
	evilLock := threading.NewLock(threading.WithName(`<img src=x onerror=alert(1)>`))
	evilLock.Acquire()
	evil := threading.NewThread(func(context.Context) error {
		if err := evilLock.AcquireContext(ctx); err != nil {
			return nil
		}
		return evilLock.Release()
	}, threading.WithName("<script>alert(1)</script>"), threading.WithDaemon(true))
	_ = evil.Start()
	defer func() { _ = evilLock.Release(); _ = evil.Join() }()

	url := base + "/"
	deadline := time.Now().Add(60 * time.Second)
	var dom string
	for {
		dom = headless(t, bin, "--dump-dom", url)
		if strings.Contains(dom, "Deadlock: philosopher") || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, want := range []string{
		"Deadlock: philosopher",                 // the report, in the reports panel
		`class="alert"`,                         // the banner
		"Lock fork-0",                           // the graph's primitives
		"philosopher-4",                         // the thread table
		"account-0",                             // the most contended
		"&lt;script&gt;alert(1)&lt;/script&gt;", // the hostile name, as text
	} {
		if !strings.Contains(dom, want) {
			t.Fatalf("page lacks %q:\n%s", want, dom)
		}
	}
	for _, bad := range []string{"<script>alert(1)", "<img src=\"x\""} {
		if strings.Contains(dom, bad) {
			t.Fatalf("hostile markup reached the page as HTML: %q", bad)
		}
	}
	// A thread opened (here through the address, as a click does): the page
	// fetches its stack on demand and shows it under its row.
	var g contention.Graph
	getJSON(t, base+"/api/graph", &g)
	opened := ""
	for _, th := range g.Threads {
		if th.Name == "philosopher-0" {
			opened = th.ID
		}
	}
	if opened == "" {
		t.Fatal("philosopher-0 not in /api/graph")
	}
	dom = headless(t, bin, "--dump-dom", url+"#thread="+opened)
	if !strings.Contains(dom, `<pre class="stack">`) || !strings.Contains(dom, "goroutine ") || !strings.Contains(dom, "AcquireContext") {
		t.Fatalf("the opened thread's stack is not shown:\n%s", dom)
	}
	shot := os.Getenv("THREADMON_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "threadmon.png")
	}
	headless(t, bin, "--screenshot="+shot, url)
	if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	t.Logf("screenshot: %s", shot)
}

// The page in sidecar mode, in a real headless browser: full names (cut
// with an ellipsis where the box is short, whole in the tooltip), the host
// once per group, a down target's data greyed as stale with the time of its
// last good poll, and the targets' file_sd labels.
func TestSidecarPageInBrowser(t *testing.T) {
	bin := chromium(t)
	long := "philosopher-0-who-thinks-for-a-very-long-time-before-eating-anything"
	a := startTarget(t, &fakeTarget{graph: goodGraph(long, "philosopher-1")})
	var down atomic.Bool
	fake := &fakeTarget{graph: goodGraph("soon-stale-holder", "soon-stale-waiter")}
	b := startTarget(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "gone", http.StatusServiceUnavailable)
			return
		}
		fake.ServeHTTP(w, r)
	}))
	hostA := strings.TrimPrefix(a, "http://")
	sd := filepath.Join(t.TempDir(), "sd.json")
	if err := os.WriteFile(sd, []byte(`[{"targets": ["`+hostA+`"], "labels": {"app": "orders"}}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	base, _ := sidecarWith(t, serverOptions{sidecar: sidecarOptions{targets: []string{b}, fileSD: []string{sd}}})
	waitFor(t, "both targets up", func() bool { st := targetStates(t, base); return st[a].Up && st[b].Up })
	down.Store(true)
	waitFor(t, "b stale", func() bool { return targetStates(t, base)[b].Stale })

	dom := headless(t, bin, "--dump-dom", base+"/")
	texts := regexp.MustCompile(`<text[^>]*>([^<]*)</text>`).FindAllStringSubmatch(dom, -1)
	var shown []string
	headers := 0
	for _, m := range texts {
		shown = append(shown, m[1])
		if strings.HasPrefix(m[1], hostA+" · app=orders") {
			headers++
		}
		if strings.HasPrefix(m[1], hostA+"/") || strings.Contains(m[1], "/philoso") {
			t.Fatalf("a node shows its host: %q", m[1])
		}
	}
	if headers != 1 {
		t.Fatalf("%d group headers for %s in the graph: %q", headers, hostA, shown)
	}
	for _, want := range []string{
		"<title>" + hostA + "/" + long + "</title>", // the full name, as the tooltip
		"philosopher-1</text>",                      // a short name, whole
		"Lock good-lock</text>",                     // a primitive, without its host
		`class="thread stale"`,                      // b's nodes, greyed
		"last good poll",                            // with the time of its last good poll
		"showing its data of",                       // in the targets panel too
		"<td>app=orders</td>",                       // a's labels
	} {
		if !strings.Contains(dom, want) {
			t.Fatalf("page lacks %q; graph texts %q:\n%s", want, shown, dom)
		}
	}
	cut := false
	for _, s := range shown {
		cut = cut || (strings.HasPrefix(s, "philosopher-0-who") && strings.HasSuffix(s, "…"))
	}
	if !cut {
		t.Fatalf("the long name is not cut with an ellipsis: %q", shown)
	}
	shot := filepath.Join(t.TempDir(), "sidecar.png")
	if dir := os.Getenv("THREADMON_SCREENSHOT"); dir != "" {
		shot = strings.TrimSuffix(dir, ".png") + "-sidecar.png"
	}
	headless(t, bin, "--screenshot="+shot, base+"/")
	t.Logf("screenshot: %s", shot)
}
