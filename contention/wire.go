package contention

import (
	"github.com/threadmon/threadmon/threading"

	"encoding/json"
	"errors"
	"fmt"
)

// Limits bound what the Decode functions accept from another process's
// JSON: a sidecar that reads a service it does not trust checks these
// before it uses anything (see DecodeGraph). The zero value of a field means
// its default.
type Limits struct {
	MaxThreads    int // threads in a graph (default 50,000)
	MaxPrimitives int // primitives in a graph (default 50,000)
	MaxEdges      int // edges in a graph (default 200,000)
	// MaxRefs caps the ids in one list: the holds of a thread, the holders
	// of a primitive (default 10,000).
	MaxRefs int
	// MaxString caps the bytes of one id, name, label, kind or state
	// (default 4,096); MaxText those of a stack or a report's text (default
	// 256 KiB).
	MaxString int
	MaxText   int
	// MaxItems caps the entries of /contention's lists, /lockorder and
	// /stack (default 1,000).
	MaxItems int
	// MaxValues caps the JSON values (and keys) in one document, MaxDepth
	// its nesting (defaults 2,000,000 and 32): they bound what decoding
	// allocates, whatever the document's shape.
	MaxValues int
	MaxDepth  int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxThreads, 50_000)
	def(&l.MaxPrimitives, 50_000)
	def(&l.MaxEdges, 200_000)
	def(&l.MaxRefs, 10_000)
	def(&l.MaxString, 4096)
	def(&l.MaxText, 256<<10)
	def(&l.MaxItems, 1000)
	def(&l.MaxValues, 2_000_000)
	def(&l.MaxDepth, 32)
	return l
}

func (l Limits) maxList() int {
	return max(l.MaxThreads, l.MaxPrimitives, l.MaxEdges, l.MaxRefs, l.MaxItems)
}

// scanJSON checks the document's size before it is decoded, in one pass
// that allocates nothing: at most MaxValues values, MaxDepth levels, and no
// array longer than the longest list Limits allow. Decoding `[{},{},...]`
// into structs allocates tens of times the bytes it reads; this bounds it.
func scanJSON(data []byte, l Limits) error {
	maxList := l.maxList()
	var stack [64]int32 // per open container: -1 for an object, else the commas seen in the array
	depth, values := 0, 1
	inStr, esc := false, false
	for _, c := range data {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			if depth >= l.MaxDepth || depth >= len(stack) {
				return fmt.Errorf("nested deeper than %d levels", l.MaxDepth)
			}
			if c == '{' {
				stack[depth] = -1
			} else {
				stack[depth] = 0
			}
			depth++
		case '}', ']':
			if depth > 0 {
				depth--
			}
		case ',':
			values++
			if values > l.MaxValues {
				return fmt.Errorf("more than %d JSON values", l.MaxValues)
			}
			if depth > 0 && stack[depth-1] >= 0 {
				stack[depth-1]++
				if int(stack[depth-1]) >= maxList {
					return fmt.Errorf("a list of more than %d entries", maxList)
				}
			}
		}
	}
	return nil
}

func decodeJSON(data []byte, l Limits, v any) error {
	if err := scanJSON(data, l); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// DecodeGraph decodes another process's /graph and validates it (see
// Validate). The graph it returns is indexed, its deadlocked components
// left to be computed from its own threads and primitives: what the
// document said of them is ignored.
func DecodeGraph(data []byte, l Limits) (*Graph, error) {
	l = l.withDefaults()
	var g Graph
	if err := decodeJSON(data, l, &g); err != nil {
		return nil, err
	}
	g.Deadlocked = nil
	if err := g.Validate(l); err != nil {
		return nil, err
	}
	g.index()
	return &g, nil
}

// Validate checks a graph decoded from another process before anything uses
// it: no null entries, counts and sizes within l, unique non-empty ids, and
// every id it refers to (a wait's primitive, a thread's holds, a primitive's
// holders, an edge's ends) resolves to a node of the right kind.
func (g *Graph) Validate(l Limits) error {
	l = l.withDefaults()
	if len(g.Threads) > l.MaxThreads {
		return fmt.Errorf("%d threads: at most %d", len(g.Threads), l.MaxThreads)
	}
	if len(g.Primitives) > l.MaxPrimitives {
		return fmt.Errorf("%d primitives: at most %d", len(g.Primitives), l.MaxPrimitives)
	}
	if len(g.Edges) > l.MaxEdges {
		return fmt.Errorf("%d edges: at most %d", len(g.Edges), l.MaxEdges)
	}
	str := func(what, s string) error {
		if len(s) > l.MaxString {
			return fmt.Errorf("%s: %d bytes, at most %d", what, len(s), l.MaxString)
		}
		return nil
	}
	id := func(what, s string) error {
		if s == "" {
			return fmt.Errorf("%s: empty id", what)
		}
		return str(what, s)
	}
	threads := make(map[string]bool, len(g.Threads))
	prims := make(map[string]bool, len(g.Primitives))
	for i, p := range g.Primitives {
		if p == nil {
			return fmt.Errorf("primitives[%d] is null", i)
		}
		if err := id(fmt.Sprintf("primitives[%d].id", i), p.ID); err != nil {
			return err
		}
		if prims[p.ID] {
			return fmt.Errorf("primitive %q appears twice", p.ID)
		}
		prims[p.ID] = true
		for _, f := range [...]struct{ name, v string }{{"kind", p.Kind}, {"name", p.Name}, {"class", p.Class}, {"label", p.Label}, {"state", p.State}} {
			if err := str(fmt.Sprintf("primitive %q: %s", p.ID, f.name), f.v); err != nil {
				return err
			}
		}
	}
	for i, t := range g.Threads {
		if t == nil {
			return fmt.Errorf("threads[%d] is null", i)
		}
		if err := id(fmt.Sprintf("threads[%d].id", i), t.ID); err != nil {
			return err
		}
		if threads[t.ID] || prims[t.ID] {
			return fmt.Errorf("id %q appears twice", t.ID)
		}
		threads[t.ID] = true
		for _, f := range [...]struct{ name, v string }{{"name", t.Name}, {"state", t.State}} {
			if err := str(fmt.Sprintf("thread %q: %s", t.ID, f.name), f.v); err != nil {
				return err
			}
		}
		if len(t.Stack) > l.MaxText {
			return fmt.Errorf("thread %q: stack of %d bytes, at most %d", t.ID, len(t.Stack), l.MaxText)
		}
		if t.Wait != nil {
			if !prims[t.Wait.Primitive] {
				return fmt.Errorf("thread %q waits on %q, which is not in the graph", t.ID, t.Wait.Primitive)
			}
			if err := str(fmt.Sprintf("thread %q: wait kind", t.ID), t.Wait.Kind); err != nil {
				return err
			}
			if on := t.Wait.On; on != "" && on != "writer" && on != "readers" {
				return fmt.Errorf("thread %q: wait on %q: want writer, readers or nothing", t.ID, on)
			}
		}
		if len(t.Holds) > l.MaxRefs {
			return fmt.Errorf("thread %q holds %d primitives: at most %d", t.ID, len(t.Holds), l.MaxRefs)
		}
		for _, h := range t.Holds {
			if !prims[h] {
				return fmt.Errorf("thread %q holds %q, which is not in the graph", t.ID, h)
			}
		}
	}
	for _, p := range g.Primitives {
		if len(p.Holders) > l.MaxRefs {
			return fmt.Errorf("primitive %q has %d holders: at most %d", p.ID, len(p.Holders), l.MaxRefs)
		}
		for _, h := range p.Holders {
			if !threads[h] {
				return fmt.Errorf("primitive %q is held by %q, which is not in the graph", p.ID, h)
			}
		}
		if len(p.Readers) > l.MaxRefs {
			return fmt.Errorf("primitive %q has %d readers: at most %d", p.ID, len(p.Readers), l.MaxRefs)
		}
		for _, h := range append(p.Readers[:len(p.Readers):len(p.Readers)], p.Writer) {
			if h != "" && !threads[h] {
				return fmt.Errorf("primitive %q names %q as a reader or writer, which is not in the graph", p.ID, h)
			}
		}
	}
	for i, e := range g.Edges {
		var ok bool
		switch e.Type {
		case "waits_on":
			ok = threads[e.From] && prims[e.To]
		case "held_by":
			ok = prims[e.From] && threads[e.To]
		default:
			return fmt.Errorf("edges[%d]: type %q: want waits_on or held_by", i, e.Type)
		}
		if !ok {
			return fmt.Errorf("edges[%d]: %s from %q to %q: an end is not in the graph", i, e.Type, e.From, e.To)
		}
		if err := str(fmt.Sprintf("edges[%d].kind", i), e.Kind); err != nil {
			return err
		}
	}
	return nil
}

// DecodeTop decodes and validates another process's /contention.
func DecodeTop(data []byte, l Limits) (Top, error) {
	l = l.withDefaults()
	var top Top
	if err := decodeJSON(data, l, &top); err != nil {
		return Top{}, err
	}
	for _, list := range [][]Contended{top.ByWait, top.ByCount, top.Idle} {
		if len(list) > l.MaxItems {
			return Top{}, fmt.Errorf("%d contended classes: at most %d", len(list), l.MaxItems)
		}
		for _, c := range list {
			if len(c.Kind) > l.MaxString || len(c.Label) > l.MaxString {
				return Top{}, fmt.Errorf("contended class %.40q: a field longer than %d bytes", c.Label, l.MaxString)
			}
		}
	}
	// A process of an older version ranks waits to be notified with the
	// waits to acquire: they are moved apart, by kind.
	idle := map[string]bool{}
	for k := threading.Kind(1); k < 64; k++ {
		idle[k.String()] = IdleKind(k)
	}
	split := func(list []Contended, keep bool) []Contended {
		out := []Contended{}
		for _, c := range list {
			if c.Idle || idle[c.Kind] {
				if keep && !c.Idle {
					c.Idle = true
					top.Idle = append(top.Idle, c)
				}
				continue
			}
			out = append(out, c)
		}
		return out
	}
	top.ByWait, top.ByCount = split(top.ByWait, true), split(top.ByCount, false)
	if top.Idle == nil {
		top.Idle = []Contended{}
	}
	return top, nil
}

// DecodeOrderReports decodes and validates another process's /lockorder.
func DecodeOrderReports(data []byte, l Limits) ([]*OrderReport, error) {
	l = l.withDefaults()
	var out []*OrderReport
	if err := decodeJSON(data, l, &out); err != nil {
		return nil, err
	}
	if len(out) > l.MaxItems {
		return nil, fmt.Errorf("%d lock-order reports: at most %d", len(out), l.MaxItems)
	}
	for i, r := range out {
		if r == nil {
			return nil, fmt.Errorf("lock-order report %d is null", i)
		}
		if len(r.Text) > l.MaxText || len(r.Cycle) > l.MaxRefs || len(r.Edges) > l.MaxRefs {
			return nil, fmt.Errorf("lock-order report %d is too large", i)
		}
		for _, c := range r.Cycle {
			if len(c) > l.MaxString {
				return nil, fmt.Errorf("lock-order report %d: a class longer than %d bytes", i, l.MaxString)
			}
		}
		for _, e := range r.Edges {
			if len(e.From) > l.MaxString || len(e.To) > l.MaxString || len(e.Thread) > l.MaxString || len(e.Stack) > l.MaxText {
				return nil, fmt.Errorf("lock-order report %d: an edge too large", i)
			}
		}
	}
	if out == nil {
		out = []*OrderReport{}
	}
	return out, nil
}

// DecodeStacks decodes and validates another process's /stack.
func DecodeStacks(data []byte, l Limits) ([]ThreadStack, error) {
	l = l.withDefaults()
	var out []ThreadStack
	if err := decodeJSON(data, l, &out); err != nil {
		return nil, err
	}
	if len(out) > maxStacks {
		return nil, fmt.Errorf("%d stacks: at most %d", len(out), maxStacks)
	}
	for _, s := range out {
		if len(s.ID) > l.MaxString || len(s.Name) > l.MaxString || len(s.Stack) > l.MaxText {
			return nil, errors.New("a stack too large")
		}
	}
	return out, nil
}
