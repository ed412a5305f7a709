package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadmon/threadmon/contention"
	"github.com/threadmon/threadmon/threading"
)

// sidecarServer runs threadmon in sidecar mode on loopback, polling targets.
func sidecarServer(t *testing.T, targets ...string) (string, *server) {
	t.Helper()
	return sidecarWith(t, serverOptions{sidecar: sidecarOptions{targets: targets}})
}

// sidecarWith runs threadmon in sidecar mode with the given options (the
// poll interval 100 ms unless set).
func sidecarWith(t *testing.T, opts serverOptions) (string, *server) {
	t.Helper()
	if opts.sidecar.interval == 0 {
		opts.sidecar.interval = 100 * time.Millisecond
	}
	s, err := newServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.sidecar.run(ctx); close(done) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := s.serve(ln)
	t.Cleanup(func() { cancel(); <-done; _ = hs.Close(); s.close(); http.DefaultClient.CloseIdleConnections() })
	return "http://" + ln.Addr().String(), s
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A real service, watched from outside: its deadlock is found from the
// polled graphs, and the merged view names its threads by host.
func TestSidecarFindsDeadlock(t *testing.T) {
	svc := httptest.NewServer(contention.Handler())
	defer svc.Close()
	base, _ := sidecarServer(t, svc.URL)
	ctx, cancel := context.WithCancel(context.Background())
	a := threading.NewLock(threading.WithName("svc-a"))
	b := threading.NewLock(threading.WithName("svc-b"))
	bar, _ := threading.NewBarrier(2)
	var ths []*threading.Thread
	for i, pair := range [][2]*threading.Lock{{a, b}, {b, a}} {
		th := threading.NewThread(func(context.Context) error {
			pair[0].Acquire()
			defer pair[0].Release()
			_, _ = bar.Wait()
			if err := pair[1].AcquireContext(ctx); err != nil {
				return nil
			}
			return pair[1].Release()
		}, threading.WithName(fmt.Sprintf("svc-worker-%d", i)), threading.WithDaemon(true))
		_ = th.Start()
		ths = append(ths, th)
	}
	defer func() {
		cancel()
		for _, th := range ths {
			_ = th.Join()
		}
	}()
	host := strings.TrimPrefix(svc.URL, "http://")
	var reports []contention.Report
	waitFor(t, "the deadlock, seen from outside", func() bool {
		getJSON(t, base+"/api/deadlocks", &reports)
		return len(reports) == 1
	})
	r := reports[0]
	if len(r.Threads) != 2 || !strings.HasPrefix(r.Threads[0].Name, host+"/svc-worker-") || r.Threads[0].Stack == "" {
		t.Fatalf("%+v", r.Threads)
	}
	var g contention.Graph
	getJSON(t, base+"/api/graph", &g)
	if len(g.Deadlocked) != 1 || len(g.Deadlocked[0].Threads) != 2 || !strings.HasPrefix(g.Deadlocked[0].Threads[0], "0:t") {
		t.Fatalf("merged graph's deadlocked components: %+v", g.Deadlocked)
	}
	if len(g.Cycles()) != 1 {
		t.Fatalf("merged graph cycles: %v", g.Cycles())
	}
	// A thread opened in the merged view: its stack, from its service.
	var stacks []contention.ThreadStack
	getJSON(t, base+"/api/stack?id="+g.Deadlocked[0].Threads[0], &stacks)
	if len(stacks) != 1 || stacks[0].ID != g.Deadlocked[0].Threads[0] || !strings.HasPrefix(stacks[0].Name, host+"/svc-worker-") ||
		!strings.Contains(stacks[0].Stack, "AcquireContext") {
		t.Fatalf("/api/stack: %+v", stacks)
	}
	for _, bad := range []string{"", "?id=t1", "?id=9:t1", "?id=0:t1&id=0:t2"} {
		if resp, _ := do(t, "GET", base+"/api/stack"+bad, ""); resp.StatusCode != 400 && resp.StatusCode != 404 {
			t.Fatalf("/api/stack%s: %d", bad, resp.StatusCode)
		}
	}
	var states []TargetState
	getJSON(t, base+"/api/targets", &states)
	if len(states) != 1 || !states[0].Up || states[0].Deadlocks != 1 {
		t.Fatalf("%+v", states)
	}
}

// Hostile and broken targets are marked down with the reason; threadmon goes
// on serving, and keeps the last good snapshot of a target that turns bad.
func TestSidecarHostileTargets(t *testing.T) {
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	downURL := "http://" + closed.Addr().String()
	closed.Close()
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>not json") }))
	defer garbage.Close()
	wrongShape := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"threads": "many"}`) }))
	defer wrongShape.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }))
	defer failing.Close()
	stop := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(stop)
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat(" ", 1<<20))
		for i := 0; i < 24; i++ { // 24 MiB, more than the cap
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer huge.Close()
	var bad atomic.Bool
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bad.Load() {
			fmt.Fprint(w, "garbage")
			return
		}
		contention.Handler().ServeHTTP(w, r)
	}))
	defer flaky.Close()

	// Something for the good target to show: a thread waiting on an event.
	hold := threading.NewEvent(threading.WithName("sidecar-hold"))
	holder := threading.NewThread(func(context.Context) error { hold.Wait(); return nil }, threading.WithName("sidecar-waiter"))
	_ = holder.Start()
	defer func() { hold.Set(); _ = holder.Join() }()
	for hold.Stats().Waiters == 0 {
		time.Sleep(time.Millisecond)
	}
	base, _ := sidecarServer(t, downURL, garbage.URL, wrongShape.URL, failing.URL, slow.URL, huge.URL, flaky.URL)
	want := map[string]string{
		downURL: "refused", garbage.URL: "not the contention JSON", wrongShape.URL: "not the contention JSON",
		failing.URL: "HTTP 500", slow.URL: "timed out", huge.URL: "larger than",
	}
	var states []TargetState
	waitFor(t, "every target polled", func() bool {
		getJSON(t, base+"/api/targets", &states)
		for _, s := range states {
			if s.LastPoll.IsZero() {
				return false
			}
		}
		return true
	})
	for _, s := range states {
		if s.URL == flaky.URL {
			if !s.Up {
				t.Fatalf("the good target is down: %s", s.Reason)
			}
			continue
		}
		if s.Up || !strings.Contains(s.Reason, want[s.URL]) {
			t.Errorf("%s: up %v, reason %q, want %q", s.URL, s.Up, s.Reason, want[s.URL])
		}
	}
	var before contention.Graph
	waitFor(t, "the good target's threads", func() bool {
		getJSON(t, base+"/api/graph", &before)
		for _, th := range before.Threads {
			if strings.HasSuffix(th.Name, "/sidecar-waiter") {
				return true
			}
		}
		return false
	})
	bad.Store(true)
	waitFor(t, "the flaky target marked down", func() bool {
		getJSON(t, base+"/api/targets", &states)
		for _, s := range states {
			if s.URL == flaky.URL {
				return !s.Up
			}
		}
		return false
	})
	var after contention.Graph
	getJSON(t, base+"/api/graph", &after)
	kept := false
	for _, th := range after.Threads {
		kept = kept || strings.HasSuffix(th.Name, "/sidecar-waiter")
	}
	if !kept {
		t.Fatal("the last good snapshot was dropped")
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("threadmon itself: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("threadmon itself: %d", resp.StatusCode)
	}
}

func TestSidecarBadTargetURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "not a url", "http://"} {
		if _, err := newServer(serverOptions{sidecar: sidecarOptions{targets: []string{u}, interval: time.Second}}); err == nil {
			t.Fatalf("%q accepted", u)
		}
	}
}
