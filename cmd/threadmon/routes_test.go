package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

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
	sidecar, _ := sidecarServer(t, goodTarget(t))
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
		if len(g.Primitives) > 0 {
			q["/primitive"] = "?id=" + url.QueryEscape(g.Primitives[0].ID)
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
			case mode.name == "sidecar" && code == 501:
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
