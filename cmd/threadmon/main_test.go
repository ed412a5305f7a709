package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/threadmon/threadmon/contention"
	"github.com/threadmon/threadmon/threading"
)

func TestMain(m *testing.M) {
	threading.SetLogger(zap.NewNop())
	goleak.VerifyTestMain(m)
}

// The demo's workload runs, the philosophers deadlock and the detector
// reports them, and stopping the demo ends every thread it started.
func TestDemoWorkload(t *testing.T) {
	old := deadlockAfter
	deadlockAfter = 200 * time.Millisecond
	defer func() { deadlockAfter = old }()
	found := make(chan *contention.Report, 4)
	d := contention.Start(contention.WithInterval(50*time.Millisecond), contention.WithCallback(func(r *contention.Report) { found <- r }))
	defer d.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	w := startDemo(ctx)
	var r *contention.Report
	select {
	case r = <-found:
	case <-time.After(15 * time.Second):
		t.Fatal("the philosophers' deadlock was not reported")
	}
	if len(r.Threads) != 5 || !strings.HasPrefix(r.Threads[0].Name, "philosopher-") {
		t.Fatalf("report %+v", r.Threads)
	}
	cancel()
	w.stop()
	for _, th := range w.threads {
		if th.IsAlive() {
			t.Fatalf("%s still running after stop", th.Name())
		}
	}
	if w.transfers.Load() == 0 || w.consumed.Load() == 0 || w.rounds.Load() == 0 {
		t.Fatalf("transfers %d items %d rounds %d", w.transfers.Load(), w.consumed.Load(), w.rounds.Load())
	}
}

// serve starts threadmon's HTTP side on loopback for a test.
func serve(t *testing.T, token string) string {
	t.Helper()
	s, err := newServer(serverOptions{token: token})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := s.httpServer()
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close(); s.close(); http.DefaultClient.CloseIdleConnections() })
	return "http://" + ln.Addr().String()
}

func do(t *testing.T, method, url, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Read-only, JSON errors, the page and its API, /metrics, /healthz.
func TestServerHardening(t *testing.T) {
	base := serve(t, "")
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		resp, body := do(t, m, base+"/api/threads", "")
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" || !strings.Contains(body, `"error"`) {
			t.Fatalf("%s: %d %s", m, resp.StatusCode, body)
		}
	}
	for _, p := range []string{"/nope", "/api/nope", "/debug/pprof/", "/../etc/passwd"} {
		resp, body := do(t, "GET", base+p, "")
		var e map[string]string
		if resp.StatusCode != 404 || json.Unmarshal([]byte(body), &e) != nil || e["error"] == "" {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	resp, body := do(t, "GET", base+"/", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "<title>threadmon</title>") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("page: %d %v", resp.StatusCode, resp.Header)
	}
	for _, p := range []string{"/app.js", "/style.css", "/api/graph", "/api/deadlocks", "/healthz", "/metrics"} {
		if resp, body := do(t, "GET", base+p, ""); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	if _, body := do(t, "GET", base+"/metrics", ""); !strings.Contains(body, "threadmon_deadlocks_seen_total") || !strings.Contains(body, "threading_threads") {
		t.Fatalf("metrics:\n%s", body)
	}
}

// A token guards everything but /healthz and the page's own files.
func TestServerToken(t *testing.T) {
	base := serve(t, "s3cret")
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/api/threads", "", 401}, {"/api/threads", "wrong", 401}, {"/api/threads", "s3cret", 200},
		{"/metrics", "", 401}, {"/metrics", "s3cret", 200}, {"/healthz", "", 200}, {"/", "", 200},
	} {
		if resp, body := do(t, "GET", base+tc.path, tc.token); resp.StatusCode != tc.want {
			t.Fatalf("%s with %q: %d %s", tc.path, tc.token, resp.StatusCode, body)
		}
	}
}

// User-controlled strings reach the page only through the JSON API, and the
// page writes them as text: the script never uses innerHTML.
func TestPageEscapes(t *testing.T) {
	base := serve(t, "")
	_, js := do(t, "GET", base+"/app.js", "")
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		if strings.Contains(js, bad) {
			t.Fatalf("app.js uses %s", bad)
		}
	}
	l := threading.NewLock(threading.WithName("<script>alert(1)</script>"))
	l.Acquire()
	defer l.Release()
	_, body := do(t, "GET", base+"/api/primitives", "")
	if strings.Contains(body, "<script>") {
		t.Fatalf("the API returns unescaped markup: %s", body)
	}
}
