package threading

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/petermattis/goid"

	"github.com/threadmon/threadmon/internal/plumb"
)

// Hold-time sampling. holdEvery is 0 when off, else 1 in holdEvery
// acquisitions of a Lock, RLock or RWLock (writer) is timed.
var holdEvery atomic.Uint32

// SetHoldSampling reports as a HoldEvent how long 1 in n Lock, RLock and
// RWLock (write) acquisitions are held; n <= 0 turns it off.
func SetHoldSampling(n int) {
	if n <= 0 {
		holdEvery.Store(0)
	} else {
		holdEvery.Store(uint32(min(int64(n), 1<<31))) // int64: n may be 32 bits
	}
	updateExtra()
}

// extra is non-zero when the lock fast paths have more to do than take the
// lock: hold sampling or a lock tracker. One load of it is all the fast path
// pays for either being possible.
var extra atomic.Uint32

// trackBit is the bit of extra set while a lock tracker is installed.
const trackBit = 2

func updateExtra() {
	var v uint32
	if holdEvery.Load() != 0 {
		v |= 1
	}
	if tracker.Load() != nil {
		v |= trackBit
	}
	extra.Store(v)
}

// Lock tracking: while a plumb.LockTracker is installed, every acquisition
// and release of a Lock, of an RLock (the outermost level) and of an RWLock
// (both sides) is followed here, in a list per goroutine of the classes it
// holds; the tracker is told only of an order edge, the first time in a
// while a goroutine takes a class while holding another. That is what
// lock-order checking (package contention) needs, and it keeps the tracker
// off the fast path: an acquisition that adds no edge is a lookup of the
// goroutine's list, a scan of a small cache of its recent edges and an
// append; a release by the holder is a pop.
//
// The lists keep identities only (the address of a primitive's ext, and its
// class), never a reference to the primitive: a lock that a parked
// goroutine waits on must not be kept alive from here, or Go's goroutineleak
// profile could not tell that goroutine is stuck for good.
type trackerBox struct {
	t     plumb.LockTracker
	slots [heldSlots]atomic.Pointer[heldList] // by goroutine id
}

// heldSlots is the size of the direct-mapped table of held lists. Two live
// goroutines whose ids collide take the slot from each other and lose what
// the other recorded: checking then misses edges, it never invents one.
const heldSlots = 1 << 13

// heldList is the classes one goroutine holds, in acquisition order. Only
// its goroutine touches items and seen, so the common path takes no lock; a
// Lock released by another goroutine is queued in pending, which the owner
// applies on its next acquisition or release. What every acquisition and
// release reads comes first, and items starts in first, so that a goroutine
// that holds a few locks at a time finds them all in one allocation.
type heldList struct {
	g       uint64
	items   []heldItem
	pending atomic.Pointer[heldRemoval]
	next    int
	seen    [8]uint64 // recently told edges (edgeKey), a small ring
	first   [4]heldItem
}

// heldItem is a held primitive, known by the address of its ext (made, if
// need be, when it is taken; a uintptr, so as not to keep it alive), and
// its class; read is true for an RWLock held for reading. Should the
// primitive be freed while still listed and its address reused, the new
// primitive's release finds the later item first: the stale one stays, as
// it would have.
type heldItem struct {
	ext  uintptr
	c    *plumb.Class
	read bool
}

// heldRemoval is a release by a goroutine other than the holder, queued for
// the holder to apply.
type heldRemoval struct {
	ext  uintptr
	read bool
	next *heldRemoval
}

var tracker atomic.Pointer[trackerBox]

// setLockTracker installs t (nil removes it), with empty held lists: locks
// already held when it is installed are not known to it.
func setLockTracker(t plumb.LockTracker) {
	if t == nil {
		tracker.Store(nil)
	} else {
		tracker.Store(&trackerBox{t: t})
	}
	updateExtra()
}

// trackAcquired notes that g took the primitive whose ext x holds (made on
// first use, as a kind primitive's), for reading if read, and tells the
// tracker of the edges this adds.
func trackAcquired(x *atomic.Pointer[ext], kind Kind, g uint64, read bool) {
	acquiredExtra(x, g, extraFlags(kind, read))
}

// acquiredExtra's flags: the primitive's Kind in the low byte, and these.
const (
	extraRead   = 1 << 8 // an RWLock's read side
	extraSample = 1 << 9 // sample the hold time
)

// extraFlags are acquiredExtra's flags for an acquisition whose hold time
// is not sampled.
func extraFlags(kind Kind, read bool) uint64 {
	f := uint64(kind)
	if read {
		f |= extraRead
	}
	return f
}

// acquiredExtra is trackAcquired, after sampling the hold time of the
// acquisition if flags say so: the optional work after a lock is taken, in
// one call, so that the lock's own helper (Lock.acquired) inlines. Its
// arguments are three words, so that the assembly fast paths can jump to
// it in place of their own (fastpath_amd64.s).
func acquiredExtra(x *atomic.Pointer[ext], g, flags uint64) {
	kind, read := Kind(flags), flags&extraRead != 0
	if flags&extraSample != 0 && holdEvery.Load() != 0 && sampleHold() {
		startHold(getExt(x, kind))
	}
	b := tracker.Load()
	if b == nil {
		return
	}
	e := x.Load()
	if e == nil || e.cls.Load() == nil {
		e = trackedExt(x, kind)
	}
	c := e.cls.Load()
	// held, its common case inlined by hand: g's list is in its slot and
	// nothing is pending.
	h := b.slots[g%heldSlots].Load()
	if h == nil || h.g != g || h.pending.Load() != nil {
		h = b.held(g)
	}
	// check, when every edge this adds is in the ring of seen ones, inlined
	// by hand: a scan of the ring per held item.
	for i := range h.items {
		if !h.knows(edgeKey(&h.items[i], c, read)) {
			b.check(h, c, g, read)
			break
		}
	}
	h.items = append(h.items, heldItem{uintptr(unsafe.Pointer(e)), c, read})
}

// trackAttempt tells the tracker of the edges g adds by blocking to acquire
// the primitive of x: they are known before it blocks, so the acquisition
// that closes a cycle is reported even when it hangs.
func trackAttempt(x *atomic.Pointer[ext], kind Kind, g uint64, read bool) {
	if b := tracker.Load(); b != nil {
		b.check(b.held(g), trackedExt(x, kind).cls.Load(), g, read)
	}
}

// trackReleased notes the release of the lock m, which g took (for reading
// if read: an RWLock's read side, whose m is its writers' lock): by g, or by
// any goroutine for a Lock or an RWLock's write side.
func trackReleased(m *mutexCore, g uint64, read bool) {
	releasingExtra(nil, m, g, read, 0)
}

// releasingExtra is trackReleased, after ending the sampled hold of p (the
// primitive of m) if p is not nil: the optional work before a lock is
// released, in one call. g 0 stands for m's holder, read from its state,
// and nothing is done if it has none: so Lock.releasing is that call alone,
// and inlines. self is the caller's id, or 0 when it has not read it.
func releasingExtra(p Primitive, m *mutexCore, g uint64, read bool, self uint64) {
	if g == 0 {
		s := m.state.Load()
		if s&mLocked == 0 {
			return
		}
		g = ownerOf(s)
	}
	x := &m.x
	if p != nil && holdEvery.Load() != 0 {
		endHold(p, x.Load(), g)
	}
	b := tracker.Load()
	if b == nil {
		return
	}
	h := b.slots[g%heldSlots].Load()
	if h == nil || h.g != g {
		return // taken before tracking was on, or the slot was taken over
	}
	e := x.Load()
	if e == nil {
		return // never taken while tracking was on: that made its ext
	}
	at := uintptr(unsafe.Pointer(e))
	if self == 0 {
		self = uint64(goid.Get()) // curGoid, by hand: a call less
		if !goidTrusted {
			self = stackGoid()
		}
	}
	if self != g {
		r := &heldRemoval{ext: at, read: read}
		for {
			r.next = h.pending.Load()
			if h.pending.CompareAndSwap(r.next, r) {
				return
			}
		}
	}
	if h.pending.Load() != nil {
		h.applyPending()
	}
	// Locks are mostly released in the reverse order of their acquisition:
	// the last item first, as remove would find it.
	if n := len(h.items) - 1; n >= 0 && h.items[n].ext == at && h.items[n].read == read {
		h.items = h.items[:n]
		return
	}
	h.remove(at, read)
}

// trackedExt returns the ext of x, made on first use, with its class
// interned in its meta, where acquiredExtra reads it from then on.
func trackedExt(x *atomic.Pointer[ext], kind Kind) *ext {
	e := getExt(x, kind)
	classInfo(e.meta)
	return e
}

// held returns g's held list, taking over its slot, with the releases other
// goroutines queued for it applied.
func (b *trackerBox) held(g uint64) *heldList {
	slot := &b.slots[g%heldSlots]
	h := slot.Load()
	if h == nil || h.g != g {
		h = &heldList{g: g}
		h.items = h.first[:0]
		slot.Store(h)
	}
	h.applyPending()
	return h
}

// check tells the tracker of each edge from a class h holds to c that h has
// not told it of recently (its ring of seen edges): the tracker, and any
// lock it takes, is reached only for those. An edge from a class to itself
// or through the overflow class is never told, but noted in the ring all the
// same, so that trackAcquired does not come back here for it.
func (b *trackerBox) check(h *heldList, c *plumb.Class, g uint64, read bool) {
	for i := range h.items {
		it := &h.items[i]
		key := edgeKey(it, c, read)
		if h.knows(key) {
			continue
		}
		h.seen[h.next] = key
		h.next = (h.next + 1) % len(h.seen)
		// The overflow class mixes unrelated locks (past the bound on
		// classes): an edge through it would be a guess, never drawn.
		if it.c != c && !it.c.Overflow && !c.Overflow {
			b.t.Edge(it.c, c, it.read, read, g)
		}
	}
}

// edgeKey is the edge from the held it to c, taken for reading if read, as
// the ring of seen edges has it: the two class ids and the two read bits.
func edgeKey(it *heldItem, c *plumb.Class, read bool) uint64 {
	k := uint64(it.c.ID)<<34 | uint64(c.ID)<<2
	if it.read {
		k |= 2
	}
	if read {
		k |= 1
	}
	return k
}

// knows reports whether h has seen the edge key recently.
func (h *heldList) knows(key uint64) bool {
	for i := range h.seen { // by index: ranging over the array would copy it
		if h.seen[i] == key {
			return true
		}
	}
	return false
}

func (h *heldList) applyPending() {
	if h.pending.Load() == nil {
		return
	}
	for r := h.pending.Swap(nil); r != nil; r = r.next {
		h.remove(r.ext, r.read)
	}
}

// remove drops the last item of the primitive whose ext is at p, held for
// reading if read. A release of what is not in the list (taken before
// tracking was on) removes nothing.
func (h *heldList) remove(p uintptr, read bool) {
	for i := len(h.items) - 1; i >= 0; i-- {
		if h.items[i].ext == p && h.items[i].read == read {
			h.items = append(h.items[:i], h.items[i+1:]...)
			return
		}
	}
}

// maxClasses bounds the lock-class table, as lockdep bounds its keys: a
// service that names a lock per connection would otherwise grow it forever.
const maxClasses = 1 << 14

var classTable struct {
	mu sync.Mutex
	m  map[classKey]*plumb.Class
}

// classInfo returns the interned Class of a primitive's ext.
func classInfo(e *meta) *plumb.Class {
	if c := e.cls.Load(); c != nil {
		return c
	}
	k := classKey{e.kind, entryLabel(e)}
	classTable.mu.Lock()
	if classTable.m == nil {
		classTable.m = make(map[classKey]*plumb.Class)
	}
	c := classTable.m[k]
	if c == nil && len(classTable.m) >= maxClasses {
		k.label = OverflowLabel
		if c = classTable.m[k]; c == nil {
			c = &plumb.Class{ID: uint32(len(classTable.m) + 1), Kind: uint8(k.kind), Label: k.label, Overflow: true}
			classTable.m[k] = c
		}
	}
	if c == nil {
		c = &plumb.Class{ID: uint32(len(classTable.m) + 1), Kind: uint8(k.kind), Label: k.label}
		classTable.m[k] = c
	}
	classTable.mu.Unlock()
	e.cls.Store(c)
	return c
}

func sampleHold() bool {
	n := holdEvery.Load()
	return n != 0 && (n == 1 || rand.Uint32N(n) == 0)
}

func startHold(e *ext) { e.holdStart.Store(nanotime()) }

func endHold(p Primitive, e *ext, g uint64) {
	if e == nil {
		return
	}
	start := e.holdStart.Swap(0)
	if start == 0 || !hasObservers() {
		return
	}
	ev := &HoldEvent{Primitive: p, Thread: g, Duration: time.Duration(nanotime() - start)}
	notify(func(o Observer) { o.ObserveHold(ev) })
}
