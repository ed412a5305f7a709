package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/threadmon/threadmon/contention"
)

// In sidecar mode /summary, /primitive and /thread answer from the targets'
// last good snapshots, ids prefixed with the target's id, names with its
// host; an old target's /contention that ranks idle kinds with contention
// is split.
func TestSidecarSummary(t *testing.T) {
	a := startTarget(t, &fakeTarget{graph: goodGraph("holder", "waiter")})
	host := strings.TrimPrefix(a, "http://")
	base, _ := sidecarWith(t, serverOptions{sidecar: sidecarOptions{targets: []string{a}}})
	var s contention.Summary
	waitFor(t, "the target's summary", func() bool {
		getJSON(t, base+"/api/summary", &s)
		return s.Counts.Threads == 2
	})
	var grp *contention.ThreadGroup
	for i := range s.Groups {
		if s.Groups[i].WaitKind == "acquire" {
			grp = &s.Groups[i]
		}
	}
	if grp == nil || grp.Title != "1 thread waits to acquire Lock good-lock, held by holder" || !strings.HasPrefix(grp.Key, "0:") ||
		grp.Primitive != "0:p1" || grp.Threads[0].Name != host+"/waiter" || grp.Threads[0].ID != "0:t2" {
		t.Fatalf("groups: %+v", s.Groups)
	}
	if len(s.Primitives) != 1 || s.Primitives[0].ID != "0:p1" || s.Primitives[0].Waiters != 1 || s.Primitives[0].Label != host+"/good-lock" {
		t.Fatalf("primitives: %+v", s.Primitives)
	}
	var q contention.Summary
	getJSON(t, base+"/api/summary?q=nothing-matches", &q)
	if q.Counts.Matched != 0 || len(q.Groups) != 0 {
		t.Fatalf("query: %+v", q)
	}
	var one contention.ThreadGroup
	getJSON(t, base+"/api/summary?group="+strings.ReplaceAll(grp.Key, " ", "+"), &one)
	if one.Count != 1 || one.Threads[0].ID != "0:t2" {
		t.Fatalf("group: %+v", one)
	}
	var pv contention.PrimitiveView
	getJSON(t, base+"/api/primitive?id=0:p1", &pv)
	if pv.Primitive.Waiters != 1 || len(pv.Holders) != 1 || pv.Holders[0].Name != host+"/holder" {
		t.Fatalf("primitive: %+v", pv)
	}
	var tv contention.ThreadView
	getJSON(t, base+"/api/thread?id=0:t2", &tv)
	if tv.WaitsOn == nil || tv.WaitsOn.ID != "0:p1" || tv.Thread.Wait.Primitive != "0:p1" {
		t.Fatalf("thread: %+v", tv)
	}
	for _, path := range []string{"/api/primitive?id=9:p1", "/api/thread?id=0:t99", "/api/summary?group=0:nope"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
}

// An older service's /contention lists idle kinds among the contended: the
// decoder moves them apart.
func TestDecodeTopSplitsIdle(t *testing.T) {
	top, err := contention.DecodeTop([]byte(`{"by_wait":[{"kind":"Event","label":"e","contentions":5},{"kind":"Lock","label":"l","contentions":3}],
		"by_count":[{"kind":"Event","label":"e","contentions":5},{"kind":"Lock","label":"l","contentions":3}]}`), contention.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(top.ByWait) != 1 || top.ByWait[0].Label != "l" || len(top.ByCount) != 1 || len(top.Idle) != 1 || top.Idle[0].Label != "e" || !top.Idle[0].Idle {
		t.Fatalf("%+v", top)
	}
}
