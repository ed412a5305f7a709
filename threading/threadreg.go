package threading

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/threadmon/threadmon/internal/gdump"
)

// The thread registry: every live Thread and dummy, by goroutine id, in
// shards so that CurrentThread from many goroutines does not contend.
const regShards = 64

type regShard struct {
	mu sync.RWMutex
	m  map[uint64]threadRef
	_  [128 - 32]byte // a shard per pair of cache lines: no false sharing
}

// threadRef is a registry entry. A started Thread is held weakly: its own
// goroutine keeps it alive until it unregisters at the end, and a strong
// reference from the registry would keep everything the Thread reaches (its
// done channel, its context) reachable, hiding a joiner that waits forever
// from Go's goroutine-leak profile. Dummy and main-thread records exist only
// in the registry, so it holds them strongly.
type threadRef struct {
	strong *Thread
	weak   weak.Pointer[Thread]
}

func refOf(t *Thread) threadRef {
	if t.dummy || t.isMain {
		return threadRef{strong: t}
	}
	return threadRef{weak: weak.Make(t)}
}

func (r threadRef) get() *Thread {
	if r.strong != nil {
		return r.strong
	}
	return r.weak.Value()
}

var (
	threadReg   [regShards]regShard
	dummyCount  atomic.Int64
	lastPrune   atomic.Int64 // nanotime of the last prune
	pruneEpoch  atomic.Int64 // bumped as each prune begins
	pruneMu     sync.Mutex
	mainMu      sync.Mutex
	mainThread  atomic.Pointer[Thread]
	mainGoid    atomic.Uint64
	initialGoid = uint64(1) // the runtime's main goroutine
)

func shardOf(g uint64) *regShard { return &threadReg[g%regShards] }

func registerThread(g uint64, t *Thread) {
	s := shardOf(g)
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[uint64]threadRef)
	}
	s.m[g] = refOf(t)
	s.mu.Unlock()
}

func unregisterThread(g uint64, t *Thread) {
	s := shardOf(g)
	s.mu.Lock()
	if s.m[g].get() == t {
		delete(s.m, g)
	}
	s.mu.Unlock()
}

func lookupThread(g uint64) *Thread {
	s := shardOf(g)
	s.mu.RLock()
	t := s.m[g].get()
	s.mu.RUnlock()
	return t
}

// LookupThread returns the live thread (Thread or dummy) of a goroutine
// ident, or nil.
func LookupThread(ident uint64) *Thread { return lookupThread(ident) }

// threadForGoid returns g's thread record, making a dummy for an alien
// goroutine (or the main thread for the main goroutine).
func threadForGoid(g uint64) *Thread {
	if t := lookupThread(g); t != nil {
		return t
	}
	if g == mainGoid.Load() {
		return MainThread()
	}
	t := &Thread{
		seq: threadSeq.Add(1), dummy: true, daemon: true,
		name: fmt.Sprintf("Dummy-%d", dummyCounter.Add(1)),
		done: make(chan struct{}), started: make(chan struct{}),
	}
	t.joinMeta.kind = KindThread
	t.ident.Store(g)
	t.state.Store(threadAlive)
	t.ctx = context.WithValue(context.Background(), threadCtxKey{}, t)
	s := shardOf(g)
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[uint64]threadRef)
	}
	if old := s.m[g].get(); old != nil {
		s.mu.Unlock()
		return old
	}
	t.born = pruneEpoch.Load()
	s.m[g] = threadRef{strong: t}
	s.mu.Unlock()
	if n := dummyCount.Add(1); n > 256 && n > 2*int64(runtime.NumGoroutine()) {
		pruneDummies()
	}
	return t
}

// maybePrune drops the records of dummy threads whose goroutines have ended,
// at most once a second, and only while a goroutine dump is cheap: in a
// process with more than maxPruneGoroutines goroutines, dummies are pruned
// only when they outnumber twice the live goroutines (threadForGoid), which
// keeps the dump's cost amortised over the dummies it removes.
func maybePrune() {
	if dummyCount.Load() == 0 || runtime.NumGoroutine() > maxPruneGoroutines {
		return
	}
	if nanotime()-lastPrune.Load() < int64(time.Second) {
		return
	}
	pruneDummies()
}

// pruneDummies drops dummy records of goroutines that no longer exist. Go has
// no hook for a goroutine's end, so it reads the live goroutine ids from a
// full stack dump: costly, so it runs only when dummies outnumber twice the
// live goroutines (which bounds them) or on Enumerate, at most once a second.
func pruneDummies() {
	if !pruneMu.TryLock() {
		return
	}
	defer pruneMu.Unlock()
	// Only dummies made before the dump began may be dropped: a goroutine
	// that got its record after the dump is alive but not in it. Goroutine
	// ids are never reused, so one absent from the dump has ended.
	epoch := pruneEpoch.Add(1)
	live := liveGoroutines()
	now := time.Now()
	for i := range threadReg {
		s := &threadReg[i]
		s.mu.Lock()
		for g, r := range s.m {
			t := r.strong
			if t != nil && t.dummy && t.born < epoch && !live[g] {
				delete(s.m, g)
				recordEnded(g, t.Name(), now) // ended before now, at least
				dummyCount.Add(-1)
				t.localsMu.Lock()
				t.locals = nil
				t.localsMu.Unlock()
				t.state.Store(threadStopped)
			}
		}
		s.mu.Unlock()
	}
	lastPrune.Store(nanotime())
}

const maxPruneGoroutines = 10000

var stackBuf []byte

func liveGoroutines() map[uint64]bool {
	if stackBuf == nil {
		stackBuf = make([]byte, 1<<16)
	}
	var n int
	for {
		n = runtime.Stack(stackBuf, true)
		if n < len(stackBuf) {
			break
		}
		stackBuf = make([]byte, 2*len(stackBuf))
	}
	live := make(map[uint64]bool, runtime.NumGoroutine()+16)
	gdump.Blocks(stackBuf[:n], func(g uint64, _, _ int) { live[g] = true })
	if len(stackBuf) > 1<<24 { // do not keep a huge buffer between prunes
		stackBuf = nil
	}
	return live
}

func init() { mainGoid.Store(initialGoid) }

// The threads that ended most recently (Threads when they finish, dummies
// when pruning finds their goroutines gone), by ident, so that a lock left
// held by one can be reported as orphaned: names and times only. Goroutine
// ids are never reused, so an ident found here has ended for good.
const maxEnded = 4096

type endedRec struct {
	name  string
	ended time.Time
}

var endedThreads struct {
	mu    sync.Mutex
	m     map[uint64]endedRec
	order []uint64 // ring of the idents in m, oldest at next
	next  int
}

func recordEnded(g uint64, name string, at time.Time) {
	e := &endedThreads
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = make(map[uint64]endedRec)
		e.order = make([]uint64, 0, maxEnded)
	}
	if _, ok := e.m[g]; ok {
		return
	}
	if len(e.order) < maxEnded {
		e.order = append(e.order, g)
	} else {
		delete(e.m, e.order[e.next])
		e.order[e.next] = g
		e.next = (e.next + 1) % maxEnded
	}
	e.m[g] = endedRec{name, at}
}

func endedThread(g uint64) (string, time.Time, bool) {
	e := &endedThreads
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.m[g]
	return r.name, r.ended, ok
}
