package threading

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// Kind names a type of primitive.
type Kind uint8

// The kinds of primitive. KindThread is a Thread seen as something to wait on
// (Join).
const (
	KindLock Kind = iota + 1
	KindRLock
	KindRWLock
	KindCondition
	KindSemaphore
	KindBoundedSemaphore
	KindEvent
	KindBarrier
	KindThread
)

var kindNames = [...]string{"", "Lock", "RLock", "RWLock", "Condition", "Semaphore", "BoundedSemaphore", "Event", "Barrier", "Thread"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Stats are a primitive's counters since it was created. They are read without
// any hook attached: the fast path bumps Acquisitions, the slow path the rest.
type Stats struct {
	// Acquisitions counts successful acquisitions (for Event, Barrier and
	// Thread: successful waits).
	Acquisitions uint64
	// Contentions counts callers that had to wait.
	Contentions uint64
	// Timeouts counts waits that ended because their timeout passed.
	Timeouts uint64
	// Cancellations counts waits ended by a context or by the deadlock breaker.
	Cancellations uint64
	// WaitTotal is the total time callers spent waiting.
	WaitTotal time.Duration
	// Waiters is the number of callers waiting now.
	Waiters int
}

func (s *Stats) add(o Stats) {
	s.Acquisitions += o.Acquisitions
	s.Contentions += o.Contentions
	s.Timeouts += o.Timeouts
	s.Cancellations += o.Cancellations
	s.WaitTotal += o.WaitTotal
	s.Waiters += o.Waiters
}

// Primitive is what every instrumented type of this package is to the
// registry, the hooks and the graph: Lock, RLock, RWLock, Condition,
// Semaphore, BoundedSemaphore, Event, Barrier, and Thread (which can be
// joined).
type Primitive interface {
	// ID is unique among the primitives of this process; 0 until the
	// primitive is registered (named, or ever waited on).
	ID() uint64
	Kind() Kind
	// Name is the name given with WithName, or "".
	Name() string
	// Class is the file:line where the primitive was created (for a zero
	// value: where it was first waited on or asked for), as lockdep classes.
	Class() string
	Stats() Stats
	// Holders are the goroutine idents holding the primitive now (readers and
	// writer for an RWLock; the owner for locks; the thread itself while a
	// Thread runs). Semaphores and events have no tracked holders.
	Holders() []uint64
	String() string
}

// Label is the primitive's name, or its class when it has none: what metrics
// and graphs call it, bounded by the number of places in the code.
func Label(p Primitive) string {
	if n := p.Name(); n != "" {
		return n
	}
	return p.Class()
}

// meta is a primitive's identity and slow-path statistics: what the registry
// keeps. It never points at the primitive, its queue or its waiters, so that a
// goroutine parked on a primitive nothing else can reach stays unreachable,
// and Go's goroutine-leak profile reports it as it would with sync.
type meta struct {
	kind Kind
	name string

	pcs     [8]uintptr // call stack where created or first used
	npcs    int
	clsOnce sync.Once
	class   string

	id  atomic.Uint64             // set when registered
	ent atomic.Pointer[primEntry] // the registry entry, once registered

	contentions atomic.Uint64
	timeouts    atomic.Uint64
	cancels     atomic.Uint64
	waitNanos   atomic.Int64
	waiters     atomic.Int32

	holdStart atomic.Int64 // sampled hold: nanotime of the sampled acquire, or 0

	cls atomic.Pointer[Class] // interned lock class, for a LockTracker
}

// ext is the part of a primitive that only the slow path needs: its identity
// and statistics (meta, a separate allocation the registry may keep) and its
// queue of waiters. It is allocated by a constructor, or on a zero value's
// first wait, so a zero value that is never contended costs no more than its
// inline words.
type ext struct {
	*meta

	// mu guards q, the FIFO of parked waiters.
	mu sync.Mutex
	q  waitQueue
}

func newExt(kind Kind, name string) *ext {
	m := &meta{kind: kind, name: sanitizeName(name)}
	m.npcs = runtime.Callers(3, m.pcs[:])
	return &ext{meta: m}
}

// getExt returns the primitive's ext, allocating it on first use.
func getExt(p *atomic.Pointer[ext], kind Kind) *ext {
	if e := p.Load(); e != nil {
		return e
	}
	e := newExt(kind, "")
	if p.CompareAndSwap(nil, e) {
		return e
	}
	return p.Load()
}

var pkgDir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}()

// inPackage reports whether a frame is this package's own (non-test) code.
func inPackage(file string) bool {
	return filepath.Dir(file) == pkgDir && !strings.HasSuffix(file, "_test.go")
}

// callerSite returns the file:line of the first frame outside this package.
func callerSite(pcs []uintptr) string {
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if f.File != "" && !inPackage(f.File) {
			return filepath.Base(filepath.Dir(f.File)) + "/" + filepath.Base(f.File) + ":" + fmt.Sprint(f.Line)
		}
		if !more {
			return "unknown"
		}
	}
}

func (e *meta) classOf() string {
	e.clsOnce.Do(func() { e.class = callerSite(e.pcs[:e.npcs]) })
	return e.class
}

func (e *meta) slowStats(s *Stats) {
	s.Contentions = e.contentions.Load()
	s.Timeouts = e.timeouts.Load()
	s.Cancellations = e.cancels.Load()
	s.WaitTotal = time.Duration(e.waitNanos.Load())
	s.Waiters = int(e.waiters.Load())
}

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
	retired map[classKey]Stats
}

// maxRetiredClasses bounds the retired totals kept per class: a service that
// names a lock per connection makes a class per connection. Past the bound,
// the totals of new classes fold into one overflow class per kind
// (OverflowLabel), so that sums never go backwards and memory stays bounded.
const maxRetiredClasses = 4096

// OverflowLabel is the label of the class that collects the totals of
// classes past the registry's bound (see Classes).
const OverflowLabel = "other"

// register adds the primitive that owns e to the registry once; resolve must
// hold it only weakly. obj is the primitive's address for the cleanup.
func register[T any](e *ext, obj *T, resolve func(*T) Primitive) {
	if e.id.Load() != 0 {
		return
	}
	wp := weak.Make(obj)
	ent := &primEntry{m: e.meta, wext: weak.Make(e), resolve: func() Primitive {
		if p := wp.Value(); p != nil {
			return resolve(p)
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
		primReg.retired = make(map[classKey]Stats)
	}
	primReg.m[id] = ent
	e.ent.Store(ent)
	e.id.Store(id)
	primReg.mu.Unlock()
	runtime.AddCleanup(obj, retire, id)
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
	var final Stats
	if l := ent.last.Load(); l != nil {
		final.Acquisitions = l.Acquisitions
	}
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
		c := get(classKey{p.Kind(), Label(p)})
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

// quotedName is ` "name"` for a named primitive, for String methods.
func quotedName(e *meta) string {
	if e.name == "" {
		return ""
	}
	return fmt.Sprintf(" %q", e.name)
}

// heldBy returns the registered locks (Lock, RLock, RWLock writer) that
// goroutine g holds: what a thread that ends still holds. It reads every
// registered primitive's owner word once.
func heldBy(g uint64) []Primitive {
	primReg.mu.RLock()
	ents := make([]*primEntry, 0, len(primReg.m))
	for _, ent := range primReg.m {
		switch ent.m.kind {
		case KindLock, KindRLock, KindRWLock:
			ents = append(ents, ent)
		}
	}
	primReg.mu.RUnlock()
	var out []Primitive
	for _, ent := range ents {
		p := ent.resolve()
		if p == nil {
			continue
		}
		for _, h := range p.Holders() {
			if h == g {
				out = append(out, p)
			}
		}
	}
	return out
}

// metaOf returns a registered primitive's meta.
func metaOf(p Primitive) *meta {
	id := p.ID()
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
