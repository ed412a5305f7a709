package threading

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

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
		if n > 1<<31 {
			n = 1 << 31
		}
		holdEvery.Store(uint32(n))
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

// The lock tracker (plumb.LockTracker) sees every acquisition and release
// of a Lock, of an RLock (the outermost level) and of an RWLock's write side:
// what lock-order checking (package contention) needs.
type trackerBox struct{ t plumb.LockTracker }

var tracker atomic.Pointer[trackerBox]

// setLockTracker installs t (nil removes it). Locks already held when it is
// installed are not known to it.
func setLockTracker(t plumb.LockTracker) {
	if t == nil {
		tracker.Store(nil)
	} else {
		tracker.Store(&trackerBox{t})
	}
	updateExtra()
}

// trackAcquired tells the tracker that g took the primitive whose ext x
// holds (made on first use, as a kind primitive's).
func trackAcquired(x *atomic.Pointer[ext], kind Kind, g uint64, read bool) {
	if b := tracker.Load(); b != nil {
		e := x.Load()
		if e == nil || e.cls.Load() == nil {
			e = trackedExt(x, kind)
		}
		b.t.Acquired(e.id.Load(), e.cls.Load(), g, read)
	}
}

// trackReleased tells the tracker that the primitive of x, which g took, is
// being released.
func trackReleased(x *atomic.Pointer[ext], kind Kind, g uint64, read bool) {
	if b := tracker.Load(); b != nil {
		e := x.Load()
		if e == nil || e.cls.Load() == nil {
			e = trackedExt(x, kind)
		}
		b.t.Released(e.id.Load(), e.cls.Load(), g, read)
	}
}

// trackAttempt tells the tracker that g is about to block acquiring the
// primitive of x, so that the order edges of the acquisition are recorded
// before it blocks: the acquisition that closes a cycle is reported even
// when it hangs.
func trackAttempt(x *atomic.Pointer[ext], kind Kind, g uint64, read bool) {
	if b := tracker.Load(); b != nil {
		e := trackedExt(x, kind)
		b.t.Attempt(e.id.Load(), e.cls.Load(), g, read)
	}
}

// trackedExt returns the ext of x, made on first use, with its class
// interned in its meta: what the tracker knows a primitive by is then its id
// and that class, two loads on the fast path of trackAcquired and
// trackReleased.
func trackedExt(x *atomic.Pointer[ext], kind Kind) *ext {
	e := getExt(x, kind)
	classInfo(e.meta)
	return e
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
