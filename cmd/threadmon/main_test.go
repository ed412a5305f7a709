package main

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/threadmon/threadmon/contention"
	"github.com/threadmon/threadmon/threading"
)

func TestMain(m *testing.M) {
	threading.SetLogger(nil)
	// The demo leaks one thread on purpose where Go can find leaks (leakOnce).
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("main.leakOnce.func1.1"))
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
	hs := s.serve(ln)
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

// A response past the cap is cut off, and threadmon goes on serving.
func TestResponseCap(t *testing.T) {
	s, err := newServer(serverOptions{maxResponse: 512})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := s.httpServer()
	hs.ErrorLog = log.New(io.Discard, "", 0)
	go func() { _ = hs.Serve(ln) }()
	defer func() { _ = hs.Close(); s.close(); http.DefaultClient.CloseIdleConnections() }()
	base := "http://" + ln.Addr().String()
	resp, err := http.Get(base + "/app.js") // larger than 512 bytes
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a response past the cap was sent whole")
	}
	if resp, body := do(t, "GET", base+"/healthz", ""); resp.StatusCode != 200 || body != "ok\n" {
		t.Fatalf("healthz after an aborted response: %d %q", resp.StatusCode, body)
	}
}

// The server has header, read, write and idle timeouts; a client that sends
// its headers too slowly is cut off.
func TestServerTimeouts(t *testing.T) {
	s, err := newServer(serverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	hs := s.httpServer()
	if hs.ReadHeaderTimeout <= 0 || hs.ReadTimeout <= 0 || hs.WriteTimeout <= 0 || hs.IdleTimeout <= 0 || hs.MaxHeaderBytes <= 0 {
		t.Fatalf("timeouts %v %v %v %v, max header %d", hs.ReadHeaderTimeout, hs.ReadTimeout, hs.WriteTimeout, hs.IdleTimeout, hs.MaxHeaderBytes)
	}
	hs.ReadHeaderTimeout = 200 * time.Millisecond // the mechanism, quickly
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")) // and never the blank line
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	buf := make([]byte, 512)
	for {
		if _, err := conn.Read(buf); err != nil {
			break
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a slow client held the connection for %v", d)
	}
}

// pprof is served only when asked for.
func TestPprofFlag(t *testing.T) {
	s, err := newServer(serverOptions{pprof: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	srv := httptest.NewServer(s.handler)
	defer srv.Close()
	defer http.DefaultClient.CloseIdleConnections()
	if resp, _ := do(t, "GET", srv.URL+"/debug/pprof/", ""); resp.StatusCode != 200 {
		t.Fatalf("pprof with the flag: %d", resp.StatusCode)
	}
}
