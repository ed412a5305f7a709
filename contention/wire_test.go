package contention

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// Another process's JSON is checked before it is used: every hostile shape
// is an error, never a panic, and a real graph passes.
func TestDecodeGraphRejects(t *testing.T) {
	ok := `{"threads":[{"id":"t1","name":"a","state":"waiting","wait":{"primitive":"p1","kind":"acquire","seq":1},"holds":["p2"]},` +
		`{"id":"t2","name":"b","state":"waiting","wait":{"primitive":"p2","kind":"acquire","seq":2},"holds":["p1"]}],` +
		`"primitives":[{"id":"p1","holders":["t2"]},{"id":"p2","holders":["t1"]}],` +
		`"edges":[{"from":"t1","to":"p1","type":"waits_on"},{"from":"p1","to":"t2","type":"held_by"}]}`
	g, err := DecodeGraph([]byte(ok), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Components()) != 1 {
		t.Fatalf("components %v", g.Components())
	}
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	for name, doc := range map[string]string{
		"null thread":        `{"threads":[null]}`,
		"null primitive":     `{"primitives":[null]}`,
		"holds unknown":      `{"threads":[{"id":"t1","holds":["p9"]}]}`,
		"waits on unknown":   `{"threads":[{"id":"t1","wait":{"primitive":"p9"}}]}`,
		"holder unknown":     `{"primitives":[{"id":"p1","holders":["t9"]}]}`,
		"duplicate thread":   `{"threads":[{"id":"t1"},{"id":"t1"}]}`,
		"thread is a prim":   `{"threads":[{"id":"p1"}],"primitives":[{"id":"p1"}]}`,
		"empty id":           `{"threads":[{"id":""}]}`,
		"edge to nowhere":    `{"threads":[{"id":"t1"}],"edges":[{"from":"t1","to":"p1","type":"waits_on"}]}`,
		"edge of a new type": `{"threads":[{"id":"t1"}],"edges":[{"from":"t1","to":"t1","type":"loves"}]}`,
		"wrong shape":        `{"threads":"many"}`,
		"not json":           `<html>`,
		"deep":               `{"x":` + deep + `}`,
		"long name":          `{"threads":[{"id":"t1","name":"` + strings.Repeat("x", 5000) + `"}]}`,
		"many threads":       `{"threads":[` + strings.Repeat(`{},`, 300_000) + `{}]}`,
		"many values":        `{"x":[` + strings.Repeat(`[0,0,0,0,0,0,0,0,0,0],`, 250_000) + `0]}`,
	} {
		if _, err := DecodeGraph([]byte(doc), Limits{}); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	for name, doc := range map[string]string{
		"null report":  `[null]`,
		"many reports": `[` + strings.Repeat(`{},`, 2000) + `{}]`,
	} {
		if _, err := DecodeOrderReports([]byte(doc), Limits{}); err == nil {
			t.Errorf("lockorder %s: accepted", name)
		}
	}
	if _, err := DecodeTop([]byte(`{"by_wait":[`+strings.Repeat(`{},`, 2000)+`{}]}`), Limits{}); err == nil {
		t.Error("2001 contended classes accepted")
	}
	if _, err := DecodeStacks([]byte(`[{"stack":"`+strings.Repeat("x", 300<<10)+`"}]`), Limits{}); err == nil {
		t.Error("a 300 KiB stack accepted")
	}
}

// A real snapshot passes validation as served.
func TestDecodeGraphSnapshot(t *testing.T) {
	b, err := json.Marshal(Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeGraph(b, Limits{}); err != nil {
		t.Fatal(err)
	}
}

// Decoding a document of many tiny objects allocates a bounded amount: the
// size check runs before any struct is made.
func TestDecodeGraphBoundsAllocation(t *testing.T) {
	doc := []byte(`{"threads":[` + strings.Repeat(`{},`, 5_000_000) + `{}]}`) // 15 MB
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := DecodeGraph(doc, Limits{}); err == nil {
		t.Fatal("accepted")
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("rejecting it allocated %d bytes", n)
	}
}

// WithMaxReports keeps the latest reports only.
func TestCheckerMaxReports(t *testing.T) {
	c := NewChecker(WithMaxReports(3), WithStacks(func([]uint64) map[uint64]string { return nil }))
	for i := 0; i < 10; i++ {
		s := spec{waits: []int{0, 1}, holders: [][]int{{1}, {0}}, seq: uint64(100 * i)}
		c.Check(s.graph(t))
		c.Check(s.graph(t))
	}
	if r := c.Reports(); len(r) != 3 || !strings.Contains(r[2].ID, fmt.Sprint(901)) {
		t.Fatalf("%d reports", len(r))
	}
}
