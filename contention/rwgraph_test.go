package contention

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// rwGraph: t1 reads p1 and asks to read it again behind t2, the writer
// first in line, who waits for the readers; t3, a second writer, waits for
// t2.
func rwGraph() []byte {
	now := time.Now()
	wait := func(kind, side string, seq uint64) *Wait {
		return &Wait{Primitive: "p1", Kind: kind, Since: now.Add(-time.Second), Seq: seq, On: side}
	}
	g := &Graph{Time: now,
		Threads: []*Thread{
			{ID: "t1", Name: "reader", Ident: 1, State: "waiting", Holds: []string{"p1"}, Wait: wait("read", "writer", 1)},
			{ID: "t2", Name: "writer", Ident: 2, State: "waiting", Holds: []string{}, Wait: wait("acquire", "readers", 2)},
			{ID: "t3", Name: "writer-2", Ident: 3, State: "waiting", Holds: []string{}, Wait: wait("acquire", "writer", 3)},
		},
		Primitives: []*Primitive{{ID: "p1", Kind: "RWLock", Label: "rw", State: "<RWLock>", Holders: []string{"t1"},
			Writer: "t2", Readers: []string{"t1"}}},
	}
	b, _ := json.Marshal(g)
	return b
}

// The sides of an RWLock travel in /graph, so another process's graph
// (a sidecar's) finds the reader-writer cycle too, and only it: the second
// writer waits on the cycle from outside.
func TestRWLockSidesOverTheWire(t *testing.T) {
	g, err := DecodeGraph(rwGraph(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	comps := g.Components()
	if len(comps) != 1 || comps[0].Kind != KindDeadlock || strings.Join(comps[0].Threads, ",") != "t1,t2" ||
		strings.Join(comps[0].Primitives, ",") != "p1" {
		t.Fatalf("components %+v", comps)
	}
	bad := strings.Replace(string(rwGraph()), `"on":"readers"`, `"on":"sideways"`, 1)
	if _, err := DecodeGraph([]byte(bad), Limits{}); err == nil || !strings.Contains(err.Error(), "sideways") {
		t.Fatalf("a wait on %q accepted: %v", "sideways", err)
	}
	bad = strings.Replace(string(rwGraph()), `"writer":"t2"`, `"writer":"t9"`, 1)
	if _, err := DecodeGraph([]byte(bad), Limits{}); err == nil {
		t.Fatal("an unknown writer accepted")
	}
}
