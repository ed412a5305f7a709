package contention

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// bigGraph is a hand-built graph of n threads: worker-3 holds Lock db, 2,871
// threads wait to acquire it, 5,000 wait to be notified by Event jobs, the
// rest run.
func bigGraph(n int) *Graph {
	now := time.Now()
	g := &Graph{Time: now, Edges: []Edge{}}
	g.Primitives = []*Primitive{
		{ID: "p1", Kind: "Lock", Label: "db", Class: "app/db.go:12", Holders: []string{"t4"}},
		{ID: "p2", Kind: "Event", Label: "jobs", Class: "app/jobs.go:7", Holders: []string{}},
	}
	for i := range n {
		th := &Thread{ID: fmt.Sprintf("t%d", i+1), Ident: uint64(i + 1), State: "running", Holds: []string{}}
		switch {
		case i == 3:
			th.Name, th.Holds = "worker-3", []string{"p1"}
		case i >= 10 && i < 10+2871:
			th.Name, th.State = fmt.Sprintf("db-client-%d", i), "waiting"
			th.Wait = &Wait{Primitive: "p1", Kind: "acquire", Since: now.Add(-time.Duration(i) * time.Millisecond), Seconds: float64(i) / 1000, Seq: uint64(i)}
		case i >= 3000 && i < 8000:
			th.Name, th.State = fmt.Sprintf("idle-worker-%d", i), "waiting"
			th.Wait = &Wait{Primitive: "p2", Kind: "event", Since: now.Add(-time.Minute), Seconds: 60, Seq: uint64(i)}
		default:
			th.Name = fmt.Sprintf("runner-%d", i)
		}
		g.Threads = append(g.Threads, th)
	}
	return g
}

// At 10,000 threads the summary is small, grouped and titled, contention
// before idle waiting.
func TestSummaryAt10000Threads(t *testing.T) {
	g := bigGraph(10000)
	s := Summarize(g, SummaryOptions{})
	b, _ := json.MarshalIndent(s, "", "  ")
	full, _ := json.Marshal(g)
	t.Logf("summary %d B, graph %d B", len(b), len(full))
	if len(b) > 2<<20 || len(b) > len(full)/10 {
		t.Fatalf("summary %d B (graph %d B)", len(b), len(full))
	}
	if len(s.Groups) != 3 {
		t.Fatalf("%d groups: %+v", len(s.Groups), s.Groups)
	}
	if s.Groups[0].Title != "2,871 threads wait to acquire Lock db, held by worker-3" || s.Groups[0].Count != 2871 ||
		len(s.Groups[0].Threads) != 10 || s.Groups[0].Threads[0].Name != "db-client-2880" || s.Groups[0].Idle {
		t.Fatalf("first group: %+v", s.Groups[0])
	}
	if g1 := s.Groups[1]; !g1.Idle || g1.Count != 5000 || g1.Title != "5,000 threads waiting to be notified (event) by Event jobs" {
		t.Fatalf("idle group: %+v", g1)
	}
	if g2 := s.Groups[2]; g2.State != "running" || g2.Count != 10000-2871-5000 {
		t.Fatalf("running group: %+v", g2)
	}
	c := s.Counts
	if c.Threads != 10000 || c.Contention != 2871 || c.Idle != 5000 || c.Waiting != 7871 {
		t.Fatalf("counts %+v", c)
	}
	if len(s.Primitives) != 2 || s.Primitives[0].Waiters != 2871 || s.Primitives[1].IdleWaiters != 5000 {
		t.Fatalf("primitives %+v", s.Primitives)
	}
	if len(s.Threads) != 1 || s.Threads[0].Name != "worker-3" { // the holder only
		t.Fatalf("threads drawn: %+v", s.Threads)
	}
	// Search, and one group paged.
	q := Summarize(g, SummaryOptions{Query: "db-client-288"})
	if q.Counts.Matched != 2 || len(q.Groups) != 1 || q.Groups[0].Count != 2 || q.Groups[0].Threads[0].Name != "db-client-2880" {
		t.Fatalf("search: %+v", q.Counts)
	}
	if q := Summarize(g, SummaryOptions{Query: "idle"}); len(q.Groups) != 1 || q.Groups[0].Count != 5000 {
		t.Fatalf("search idle: %+v", q.Groups)
	}
	grp := g.Group("acquire p1", SummaryOptions{}, 100, 50)
	if grp == nil || len(grp.Threads) != 50 || grp.Threads[0].Name != "db-client-2780" || grp.Count != 2871 {
		t.Fatalf("group page: %+v", grp)
	}
	if g.Group("acquire p9", SummaryOptions{}, 0, 10) != nil {
		t.Fatal("a group that does not exist")
	}
}

// A summary is bounded whatever the number of groups.
func TestSummaryBounded(t *testing.T) {
	now := time.Now()
	g := &Graph{Time: now}
	for i := range 3000 {
		g.Primitives = append(g.Primitives, &Primitive{ID: fmt.Sprintf("p%d", i), Kind: "Lock", Label: fmt.Sprintf("l%d", i), Holders: []string{}})
		g.Threads = append(g.Threads, &Thread{ID: fmt.Sprintf("t%d", i), Name: fmt.Sprintf("w%d", i), Ident: uint64(i), State: "waiting", Holds: []string{},
			Wait: &Wait{Primitive: fmt.Sprintf("p%d", i), Kind: "acquire", Since: now}})
	}
	s := Summarize(g, SummaryOptions{})
	if len(s.Groups) != 200 || s.GroupsOmitted != 2800 || len(s.Primitives) != 100 || s.PrimitivesOmitted != 2900 {
		t.Fatalf("%d groups (%d omitted), %d primitives (%d omitted)", len(s.Groups), s.GroupsOmitted, len(s.Primitives), s.PrimitivesOmitted)
	}
}

// /contention ranks waits to acquire only; waits to be notified are listed
// apart.
func TestTopContendedKeepsIdleApart(t *testing.T) {
	l := threading.NewLock(threading.WithName("top-idle-lock"))
	ev := threading.NewEvent(threading.WithName("top-idle-event"))
	l.Acquire()
	w1 := spawn("top-idle-acquirer", func() error { l.Acquire(); return l.Release() })
	w2 := spawn("top-idle-waiter", func() error { ev.Wait(); return nil })
	for i := 0; i < 5000 && (l.Stats().Waiters == 0 || ev.Stats().Waiters == 0); i++ {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	_ = l.Release()
	ev.Set()
	_, _ = w1.Join(), w2.Join()
	top := TopContended(1000)
	in := func(list []Contended, label string) bool {
		for _, c := range list {
			if c.Label == label {
				return true
			}
		}
		return false
	}
	if !in(top.ByWait, "top-idle-lock") || !in(top.ByCount, "top-idle-lock") || in(top.Idle, "top-idle-lock") {
		t.Fatalf("the lock is not ranked as contention: %+v", top)
	}
	if in(top.ByWait, "top-idle-event") || in(top.ByCount, "top-idle-event") || !in(top.Idle, "top-idle-event") {
		t.Fatalf("the event's idle waiting is ranked as contention: %+v", top)
	}
}

// /summary, /primitive and /thread over HTTP, with their errors.
func TestSummaryEndpoints(t *testing.T) {
	// Where waiters wait comes from a dump only when asked for: with no
	// sampled wait stacks (1 in 8 by default), no waiter has a site of its own.
	threading.SetWaitStackSampling(0)
	defer threading.SetWaitStackSampling(threading.DefaultWaitStackSampling)
	addr, stop, err := Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	l := threading.NewLock(threading.WithName("endpoint-lock"))
	l.Acquire()
	w := spawn("endpoint-waiter", func() error { l.Acquire(); return l.Release() })
	defer func() { _ = l.Release(); _ = w.Join() }()
	// Waiting once the wait is published (after the waiter's brief yields).
	for i := 0; i < 5000; i++ {
		if _, ok := w.Waiting(); ok {
			break
		}
		time.Sleep(time.Millisecond)
	}
	get := func(path string, code int, v any) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != code {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		if v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
	}
	var s Summary
	get("/summary?q=endpoint", 200, &s)
	var grp *ThreadGroup
	for i := range s.Groups {
		if s.Groups[i].PrimitiveLabel == "endpoint-lock" {
			grp = &s.Groups[i]
		}
	}
	if grp == nil || grp.Count != 1 || grp.Threads[0].Name != "endpoint-waiter" || !strings.HasPrefix(grp.Title, "1 thread waits to acquire Lock endpoint-lock, held by ") {
		t.Fatalf("summary: %+v", s.Groups)
	}
	var one ThreadGroup
	get("/summary?group="+strings.ReplaceAll(grp.Key, " ", "+")+"&limit=5", 200, &one)
	if one.Count != 1 || len(one.Threads) != 1 {
		t.Fatalf("group: %+v", one)
	}
	var pv PrimitiveView
	get("/primitive?id="+grp.Primitive, 200, &pv)
	if pv.Primitive.Waiters != 1 || len(pv.Holders) != 1 || len(pv.Waiters) != 1 || pv.Waiters[0].Threads[0].Name != "endpoint-waiter" {
		t.Fatalf("primitive view: %+v", pv)
	}
	if pv.SitesFrom != "" || pv.Waiters[0].Site != "" {
		t.Fatalf("sites without asking: %+v", pv)
	}
	get("/primitive?sites=1&id="+grp.Primitive, 200, &pv)
	if pv.SitesFrom != "dump" || !strings.Contains(pv.Waiters[0].Site, "contention.TestSummaryEndpoints") || !strings.Contains(pv.Waiters[0].Site, "summary_test.go:") {
		t.Fatalf("sites from a dump: %+v", pv.Waiters)
	}
	var tv ThreadView
	get("/thread?id="+grp.Threads[0].ID, 200, &tv)
	if tv.WaitsOn == nil || tv.WaitsOn.Label != "endpoint-lock" || len(tv.Holders) != 1 {
		t.Fatalf("thread view: %+v", tv)
	}
	get("/primitive?id=p999999999", 404, nil)
	get("/thread?id=t999999999", 404, nil)
	get("/summary?group=nope", 404, nil)
	get("/summary?groups=x", 400, nil)
	get("/summary?q="+strings.Repeat("x", 201), 400, nil)
}
