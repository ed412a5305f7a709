package threading

import (
	"runtime"
	"sync"
	"sync/atomic"
	"weak"
)

// The primitive registry: named primitives and anything ever waited on, held
// through weak pointers so that a primitive that is garbage is forgotten. An
// entry keeps the primitive's meta (identity, statistics) and weak pointers
// to the primitive and its ext, never the queue: see meta. When a primitive
// is collected, its last statistics fold into its class's retired totals, so
// that counters summed by class never go backwards.
type primEntry struct {
	m       *meta
	resolve func() Primitive
	wext    weak.Pointer[ext]
	last    atomic.Pointer[Stats] // last statistics seen while alive
}

// ext returns the entry's ext while its primitive is alive.
func (ent *primEntry) ext() *ext { return ent.wext.Value() }

type classKey struct {
	kind  Kind
	label string
}

var primReg struct {
	nextID  atomic.Uint64
	mu      sync.RWMutex
	m       map[uint64]*primEntry
	locks   map[uint64]*primEntry // the entries of m that are locks, for heldBy
	retired map[classKey]Stats
}

// maxHeldScan bounds the locks heldBy looks at when a thread ends: past it,
// the "ended holding a lock" smell is not checked, so that ending a thread
// costs the same in a process with a million registered locks.
const maxHeldScan = 4096

func isLockKind(k Kind) bool { return k == KindLock || k == KindRLock || k == KindRWLock }

// maxRetiredClasses bounds the retired totals kept per class: a service that
// names a lock per connection makes a class per connection. Past the bound,
// the totals of new classes fold into one overflow class per kind
// (OverflowLabel), so that sums never go backwards and memory stays bounded.
const maxRetiredClasses = 4096

// OverflowLabel is the label of the class that collects the totals of
// classes past the registry's bound (see Classes).
const OverflowLabel = "other"

// register adds obj, the primitive that owns e, to the registry once,
// through a weak pointer.
func register[T any, P interface {
	*T
	Primitive
}](e *ext, obj P) {
	if e.id.Load() != 0 {
		return
	}
	wp := weak.Make((*T)(obj))
	ent := &primEntry{m: e.meta, wext: weak.Make(e), resolve: func() Primitive {
		if p := wp.Value(); p != nil {
			return P(p)
		}
		return nil
	}}
	primReg.mu.Lock()
	if e.id.Load() != 0 {
		primReg.mu.Unlock()
		return
	}
	id := primReg.nextID.Add(1)
	if primReg.m == nil {
		primReg.m = make(map[uint64]*primEntry)
		primReg.locks = make(map[uint64]*primEntry)
		primReg.retired = make(map[classKey]Stats)
	}
	primReg.m[id] = ent
	if isLockKind(e.kind) {
		primReg.locks[id] = ent
	}
	e.ent.Store(ent)
	e.id.Store(id)
	primReg.mu.Unlock()
	runtime.AddCleanup((*T)(obj), retire, id)
}

// retire runs after a registered primitive was collected.
func retire(id uint64) {
	primReg.mu.Lock()
	defer primReg.mu.Unlock()
	ent, ok := primReg.m[id]
	if !ok {
		return
	}
	delete(primReg.m, id)
	delete(primReg.locks, id)
	var final Stats
	if l := ent.last.Load(); l != nil {
		final.Acquisitions = l.Acquisitions
	}
	// A lock's count in meta is complete once it had an ext from the start
	// (a named lock); otherwise the last look is the better figure.
	final.Acquisitions = max(final.Acquisitions, ent.m.cnt.load())
	// The slow-path statistics live in meta, which outlives the primitive.
	ent.m.slowStats(&final)
	final.Waiters = 0
	k := classKey{ent.m.kind, entryLabel(ent.m)}
	r, ok := primReg.retired[k]
	if !ok && len(primReg.retired) >= maxRetiredClasses {
		k.label = OverflowLabel
		r = primReg.retired[k]
	}
	r.add(final)
	primReg.retired[k] = r
}

func entryLabel(e *meta) string {
	if e.name != "" {
		return e.name
	}
	return e.classOf()
}

// Primitives returns the registered primitives that are still alive, in the
// order they were registered.
func Primitives() []Primitive {
	primReg.mu.RLock()
	out := make([]Primitive, 0, len(primReg.m))
	ids := make([]uint64, 0, len(primReg.m))
	for id := range primReg.m {
		ids = append(ids, id)
	}
	primReg.mu.RUnlock()
	sortU64(ids)
	for _, id := range ids {
		primReg.mu.RLock()
		ent := primReg.m[id]
		primReg.mu.RUnlock()
		if ent == nil {
			continue
		}
		if p := ent.resolve(); p != nil {
			s := p.Stats()
			ent.last.Store(&s)
			out = append(out, p)
		} else {
			retire(id) // collected; its cleanup may not have run yet
		}
	}
	return out
}

// ClassStats is the statistics of every registered primitive of one kind and
// label (name, or class), including those already collected: the numbers a
// metrics collector exports, which never go backwards.
type ClassStats struct {
	Kind  Kind
	Label string
	// Live is how many primitives of this class are alive and registered.
	Live  int
	Stats Stats
	// Stack is where one primitive of the class was created (or first
	// waited on), innermost frame first: the location of the class in a
	// contention profile. Nil for classes whose primitives are all gone.
	Stack []uintptr
}

// Classes aggregates the registry by kind and label.
func Classes() []ClassStats {
	live := Primitives()
	agg := make(map[classKey]*ClassStats)
	get := func(k classKey) *ClassStats {
		c := agg[k]
		if c == nil {
			c = &ClassStats{Kind: k.kind, Label: k.label}
			agg[k] = c
		}
		return c
	}
	for _, p := range live {
		c := get(classKey{p.primKind(), label(p)})
		c.Live++
		c.Stats.add(p.Stats())
		if c.Stack == nil {
			if e := metaOf(p); e != nil {
				c.Stack = append([]uintptr(nil), e.pcs[:e.npcs]...)
			}
		}
	}
	primReg.mu.RLock()
	for k, s := range primReg.retired {
		get(k).Stats.add(s)
	}
	primReg.mu.RUnlock()
	out := make([]ClassStats, 0, len(agg))
	for _, c := range agg {
		out = append(out, *c)
	}
	sortClasses(out)
	return out
}

// heldBy returns the registered locks (Lock, RLock, RWLock writer) that
// goroutine g holds: what a thread that ends still holds. It reads every
// registered primitive's owner word once.
func heldBy(g uint64) []Primitive {
	primReg.mu.RLock()
	if len(primReg.locks) > maxHeldScan {
		primReg.mu.RUnlock()
		return nil
	}
	ents := make([]*primEntry, 0, len(primReg.locks))
	for _, ent := range primReg.locks {
		ents = append(ents, ent)
	}
	primReg.mu.RUnlock()
	var out []Primitive
	for _, ent := range ents {
		p := ent.resolve()
		if p == nil {
			continue
		}
		for _, h := range p.holders() {
			if h == g {
				out = append(out, p)
			}
		}
	}
	return out
}

// metaOf returns a registered primitive's meta.
func metaOf(p Primitive) *meta {
	id := p.primID()
	if id == 0 {
		return nil
	}
	primReg.mu.RLock()
	defer primReg.mu.RUnlock()
	if ent := primReg.m[id]; ent != nil {
		return ent.m
	}
	return nil
}
