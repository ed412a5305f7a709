package contention

import (
	"strings"
	"testing"
	"time"
)

// Long waits: waits to acquire only by default; with WithIdleLongWaits,
// waits to be notified too, at info level, not published.
func TestLongWaitsKeepIdleApart(t *testing.T) {
	now := time.Now()
	g := func() *Graph {
		gr := &Graph{Time: now, Primitives: []*Primitive{
			{ID: "p1", Kind: "Lock", Label: "db", State: "<locked Lock db>", Holders: []string{"t1"}},
			{ID: "p2", Kind: "Condition", Label: "jobs", State: "<Condition jobs>", Holders: []string{}},
		}, Threads: []*Thread{
			{ID: "t1", Name: "holder", Ident: 1, State: "running", Holds: []string{"p1"}},
			{ID: "t2", Name: "acquirer", Ident: 2, State: "waiting", Holds: []string{}, Wait: &Wait{Primitive: "p1", Kind: "acquire", Since: now.Add(-time.Minute), Seconds: 60, Seq: 1}},
			{ID: "t3", Name: "idler", Ident: 3, State: "waiting", Holds: []string{}, Wait: &Wait{Primitive: "p2", Kind: "notify", Since: now.Add(-time.Minute), Seconds: 60, Seq: 2}},
		}}
		gr.index()
		return gr
	}
	d := newDetector([]Option{WithLongWait(time.Second)})
	if out := d.checkLongWaits(g()); len(out) != 1 || out[0].Thread != "acquirer" || len(d.LongWaits()) != 1 {
		t.Fatalf("default: %d published, %d kept", len(out), len(d.LongWaits()))
	}
	d = newDetector([]Option{WithLongWait(time.Second), WithIdleLongWaits()})
	out := d.checkLongWaits(g())
	lws := d.LongWaits()
	if len(out) != 1 || out[0].Thread != "acquirer" || len(lws) != 2 {
		t.Fatalf("idle opted in: %d published, %d kept", len(out), len(lws))
	}
	for _, lw := range lws {
		if lw.Thread == "idler" && (!strings.HasPrefix(lw.Text, "info:") || !strings.Contains(lw.Text, "waiting to be notified")) {
			t.Fatalf("idle long wait: %q", lw.Text)
		}
	}
}
