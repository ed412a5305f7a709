package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/threadmon/threadmon/contention"
	"github.com/threadmon/threadmon/threading"
)

// handlerPaths are the paths contention.Handler documents (its doc comment
// lists one per line), so a route added there is checked here too.
func handlerPaths(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("../../contention/handler.go")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, m := range regexp.MustCompile(`(?m)^//\t(/[a-z.]+) `).FindAllStringSubmatch(string(src), -1) {
		paths = append(paths, m[1])
	}
	if len(paths) < 15 {
		t.Fatalf("found %d paths in contention.Handler's doc: %v", len(paths), paths)
	}
	return paths
}

// Every path served in-process is answered in sidecar mode too, by the same
// handler: with data, or with a JSON error saying why (501 for what the
// merged view does not keep), never a bare 404.
func TestEveryRouteInSidecarMode(t *testing.T) {
	local := serve(t, "")
	// A thread holding a lock, so the process's own graph has one of each.
	lock := threading.NewLock(threading.WithName("routes-lock"))
	held, release := make(chan struct{}), make(chan struct{})
	th := threading.NewThread(func(context.Context) error {
		lock.Acquire()
		defer lock.Release()
		close(held)
		<-release
		return nil
	}, threading.WithName("routes-holder"))
	if err := th.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { close(release); _ = th.Join() }()
	<-held
	// The target is this process's own handler: a real one, serving every
	// path the sidecar fetches from, and a fake one beside it.
	svc := httptest.NewServer(contention.Handler())
	defer svc.Close()
	sidecar, _ := sidecarServer(t, svc.URL, goodTarget(t))
	waitFor(t, "the target's threads in the merged view", func() bool {
		var g contention.Graph
		getJSON(t, sidecar+"/api/graph", &g)
		return len(g.Threads) > 0 && len(g.Primitives) > 0
	})
	// Ids to drill into, from each mode's own graph.
	query := func(base string) map[string]string {
		var g contention.Graph
		getJSON(t, base+"/api/graph", &g)
		q := map[string]string{"/summary": "?q=a", "/contention": "?n=3"}
		if len(g.Threads) > 0 {
			q["/thread"], q["/stack"] = "?id="+url.QueryEscape(g.Threads[0].ID), "?id="+url.QueryEscape(g.Threads[0].ID)
		}
		// The held lock, which lives as long as this test: another
		// primitive of the process (the first listed) may be collected
		// between the graph and the drill-in.
		for _, p := range g.Primitives {
			if p.Name == "routes-lock" {
				q["/primitive"] = "?id=" + url.QueryEscape(p.ID)
			}
		}
		if q["/primitive"] == "" {
			t.Fatalf("%s: the held lock is not in the graph", base)
		}
		return q
	}
	for _, mode := range []struct{ name, base string }{{"in-process", local}, {"sidecar", sidecar}} {
		q := query(mode.base)
		for _, p := range handlerPaths(t) {
			resp, body := do(t, "GET", mode.base+"/api"+p+q[p], "")
			code := resp.StatusCode
			switch {
			case code == 200:
			case p == "/targets" && mode.name == "in-process" && code == 501:
			case mode.name == "sidecar" && code == 501 && p == "/leaks":
				var e map[string]string
				if json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e["error"], p) {
					t.Errorf("%s %s: 501 without a JSON error naming the path: %s", mode.name, p, body)
				}
			default:
				t.Errorf("%s %s%s: %d %.300s", mode.name, p, q[p], code, body)
			}
		}
	}
}

// A target's long waits and its profile reach the merged view: the long
// waits of its detector, named by host, and its profile, each sample
// labelled with its target.
func TestSidecarMergesTargetReports(t *testing.T) {
	d := contention.Start(contention.WithInterval(20*time.Millisecond), contention.WithLongWait(100*time.Millisecond))
	defer d.Stop()
	svc := httptest.NewServer(contention.NewHandler(contention.Local(d)))
	defer svc.Close()
	base, _ := sidecarServer(t, svc.URL)
	lock := threading.NewLock(threading.WithName("merge-lock"))
	lock.Acquire()
	th := threading.NewThread(func(context.Context) error {
		lock.Acquire()
		return lock.Release()
	}, threading.WithName("merge-waiter"))
	if err := th.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Release(); _ = th.Join() }()
	host := strings.TrimPrefix(svc.URL, "http://")
	waitFor(t, "the target's long wait in the merged view", func() bool {
		var lws []struct {
			contention.LongWait
			Target int `json:"target"`
		}
		getJSON(t, base+"/api/longwaits", &lws)
		for _, w := range lws {
			if w.Thread == host+"/merge-waiter" && w.Target == 0 {
				return true
			}
		}
		return false
	})
	resp, body := do(t, "GET", base+"/api/profile?view=classes", "")
	if resp.StatusCode != 200 {
		t.Fatalf("/profile: %d %s", resp.StatusCode, body)
	}
	p, err := profile.ParseData([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	labelled := false
	for _, s := range p.Sample {
		labelled = labelled || slices.Equal(s.Label["target"], []string{host})
	}
	if !labelled {
		t.Fatalf("no sample labelled target=%s in %d samples", host, len(p.Sample))
	}
	if resp, body := do(t, "GET", base+"/api/profile?view=nope", ""); resp.StatusCode != 400 {
		t.Fatalf("/profile?view=nope: %d %s", resp.StatusCode, body)
	}
}
