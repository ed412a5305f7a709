package threading

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/threadmon/threadmon/internal/plumb"
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
	KindCond      // Cond, sync.Cond's drop-in
	KindWaitGroup // WaitGroup, sync.WaitGroup's drop-in
	KindOnce      // Once, sync.Once's drop-in
	KindGroup     // Group, errgroup.Group's drop-in
)

var kindNames = [...]string{"", "Lock", "RLock", "RWLock", "Condition", "Semaphore", "BoundedSemaphore", "Event", "Barrier", "Thread", "Cond", "WaitGroup", "Once", "Group"}

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
	// WaitTotal is the total time callers spent parked (with an observer
	// attached: waiting). A wait that ends within its first yields adds 0.
	WaitTotal time.Duration
	// Waiters is the number of callers parked waiting now.
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

// Primitive is any instrumented type of this package: Lock, RLock, RWLock,
// Condition, Semaphore, BoundedSemaphore, Event, Barrier, Thread (which can
// be joined), and the sync drop-ins Cond, WaitGroup, Once and Group. Describe
// tells what the registry knows of one.
type Primitive interface {
	Stats() Stats
	String() string

	primID() uint64
	primKind() Kind
	primName() string
	primClass() string
	holders() []uint64
}

// Info is what the registry, the hooks and the graph know of a primitive.
type Info struct {
	// ID is unique among the primitives of this process; 0 until the
	// primitive is registered (named, or ever waited on).
	ID   uint64
	Kind Kind
	// Name is the name given with WithName (a Thread's name), or "".
	Name string
	// Class is the file:line where the primitive was created (for a zero
	// value: where it was first waited on or described), as lockdep classes.
	Class string
}

// Describe returns what is known of p.
func Describe(p Primitive) Info {
	return Info{ID: p.primID(), Kind: p.primKind(), Name: p.primName(), Class: p.primClass()}
}

// Label is the name, or the class when there is none: what metrics and graphs
// call the primitive, bounded by the number of places in the code.
func (i Info) Label() string {
	if i.Name != "" {
		return i.Name
	}
	return i.Class
}

// label is Describe(p).Label() without symbolizing a named primitive's class.
func label(p Primitive) string {
	if n := p.primName(); n != "" {
		return n
	}
	return p.primClass()
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

	// cnt counts a lock's acquisitions once it has an ext (see mutexCore);
	// only the holder writes it. It is here, not in ext, so that a named
	// lock's count outlives the lock: retire folds it into the class.
	cnt holderCount

	contentions atomic.Uint64
	timeouts    atomic.Uint64
	cancels     atomic.Uint64
	waitNanos   atomic.Int64
	waiters     atomic.Int32

	holdStart atomic.Int64 // sampled hold: nanotime of the sampled acquire, or 0

	cls atomic.Pointer[plumb.Class] // interned lock class, for the lock tracker
}

// ext is the part of a primitive that only the slow path needs: its identity
// and statistics (meta, a separate allocation the registry may keep) and its
// queue of waiters. It is allocated by a constructor, or on a zero value's
// first wait, so a zero value that is never contended costs no more than its
// inline words.
type ext struct {
	*meta

	// home is the address of the mutexCore this ext serves (0 until its
	// first slow path): a copy of a lock that shares it is found there.
	home atomic.Uintptr

	// mu guards q, the FIFO of parked waiters.
	mu sync.Mutex
	q  waitQueue

	// acq counts the read acquisitions of an RWLock that its holder slots
	// do not: those past the slots, and the slots' wraps.
	acq atomic.Uint64

	// rw holds an RWLock's hand-offs to its readers and its writer, made
	// on first use: only a contended RWLock needs them.
	rw atomic.Pointer[rwSemas]
}

func newExt(kind Kind, name string) *ext {
	m := &meta{kind: kind, name: sanitizeName(name)}
	m.npcs = runtime.Callers(3, m.pcs[:])
	return &ext{meta: m}
}

// newPrimExt is every constructor's common part: obj's ext, with the name
// the options give, stored in obj, then registered at once when named (so
// that a named primitive is listed before it is ever waited on; others are
// registered on their first wait). The store comes first: once registered,
// obj is read by other goroutines.
func newPrimExt[T any, P interface {
	*T
	Primitive
	setExt(*ext)
}](obj P, kind Kind, o options) {
	e := newExt(kind, o.name)
	obj.setExt(e)
	if o.name != "" {
		register(e, obj)
	}
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

// quotedName is ` "name"` for a named primitive, for String methods.
func quotedName(e *meta) string {
	if e.name == "" {
		return ""
	}
	return fmt.Sprintf(" %q", e.name)
}
