package threading

import "sync/atomic"

// holderSlots names the readers of an RWLock and counts its read
// acquisitions, at the cost of one CAS on RLock and one on RUnlock (the
// count rides in the slot the CAS writes), so that the wait-for graph can
// follow a reader that blocks a writer with no set-up.
//
// Each slot is a word: the holder's goroutine id in the high 40 bits (0 when
// free), and in the low 24 bits the number of acquisitions made through it,
// modulo 2^24 (the lock's ext.acq gets 2^24 each time it wraps). Readers
// past the four slots (or with ids past 2^40) are counted in over, not
// named, and their acquisitions go to ext.acq: the graph says how many
// readers it cannot name. (x, passed to the methods that count, is the
// RWLock's ext pointer: the ext is made on the first such count.)
//
// Names are only given while the lock is used in pairs: a goroutine
// read-unlocks what it read-locked. A release by a goroutine that holds no
// slot while no holder is unnamed (an RLock released by another goroutine)
// turns naming off for good: such holders are not owners, and naming them
// could make the deadlock detector report a cycle that the next release
// would break. The graph may then miss a holder; it never names a wrong
// one.
type holderSlots struct {
	s        [4]atomic.Uint64
	over     atomic.Int32 // holders past the slots
	unpaired atomic.Bool
}

const (
	slotCountBits = 24
	slotCountMask = 1<<slotCountBits - 1
)

// Slot 0 belongs to the reader that takes the lock from no readers (its
// RLock made the count 1): no other reader can then be in it, since every
// reader frees its slot before its RUnlock lowers the count. So that reader
// and its RUnlock write it with a plain store (slotStore), no locked
// instruction, and an uncontended RLock/RUnlock costs what sync.RWMutex's
// does plus a load and a store. The other readers claim slots 1 to 3 with a
// CAS.

// slotAcq is where acquisitions not counted in a slot go.
func slotAcq(x *atomic.Pointer[ext]) *atomic.Uint64 { return &getExt(x, KindRWLock).acq }

// addFirst records an acquisition by g, the only reader. RLock repeats its
// common case inline; the rare ones are in addFirstSlow.
func (h *holderSlots) addFirst(g uint64, x *atomic.Pointer[ext]) {
	v := h.s[0].Load()
	if g >= 1<<(64-slotCountBits) || v&slotCountMask == slotCountMask {
		h.addFirstSlow(g, x)
		return
	}
	slotStore(&h.s[0], g<<slotCountBits|(v&slotCountMask+1))
}

func (h *holderSlots) addFirstSlow(g uint64, x *atomic.Pointer[ext]) {
	if g >= 1<<(64-slotCountBits) {
		h.addOver(x)
		return
	}
	v := h.s[0].Load()
	c := (v + 1) & slotCountMask
	if c == 0 {
		slotAcq(x).Add(1 << slotCountBits) // the slot's count wraps
	}
	slotStore(&h.s[0], g<<slotCountBits|c)
}

// add records an acquisition by g, one of several readers.
func (h *holderSlots) add(g uint64, x *atomic.Pointer[ext]) {
	if h.unpaired.Load() {
		slotAcq(x).Add(1) // naming is off for good: count only
		return
	}
	if g < 1<<(64-slotCountBits) {
		for i := 1; i < len(h.s); i++ {
			v := h.s[i].Load()
			if v>>slotCountBits != 0 {
				continue
			}
			c := (v + 1) & slotCountMask
			if c == 0 {
				slotAcq(x).Add(1 << slotCountBits)
			}
			if h.s[i].CompareAndSwap(v, g<<slotCountBits|c) {
				return
			}
			if c == 0 {
				slotAcq(x).Add(^uint64(1<<slotCountBits - 1))
			}
		}
	}
	h.addOver(x)
}

func (h *holderSlots) addOver(x *atomic.Pointer[ext]) {
	slotAcq(x).Add(1)
	h.over.Add(1)
}

// remove records a release by g. RUnlock repeats its common case (the
// first reader) inline; the others are in removeSlow.
func (h *holderSlots) remove(g uint64) {
	if v := h.s[0].Load(); v>>slotCountBits == g {
		slotStore(&h.s[0], v&slotCountMask)
		return
	}
	h.removeSlow(g)
}

func (h *holderSlots) removeSlow(g uint64) {
	for i := 1; i < len(h.s); i++ {
		v := h.s[i].Load()
		if v>>slotCountBits == g && h.s[i].CompareAndSwap(v, v&slotCountMask) {
			return
		}
	}
	if h.over.Load() > 0 {
		if h.over.Add(-1) >= 0 {
			return // one of the unnamed holders
		}
		h.over.Add(1) // lost a race for the last one: not ours
	}
	if !h.unpaired.Load() {
		h.unpaired.Store(true)
	}
}

// acquisitions is the number of adds so far that the slots count (the
// others are in ext.acq, which the RWLock's Stats reads with the write
// count).
func (h *holderSlots) acquisitions() uint64 {
	var n uint64
	for i := range h.s {
		n += h.s[i].Load() & slotCountMask
	}
	return n
}

// contains reports whether g holds a slot (naming still on).
func (h *holderSlots) contains(g uint64) bool {
	if h.unpaired.Load() {
		return false
	}
	for i := range h.s {
		if h.s[i].Load()>>slotCountBits == g {
			return true
		}
	}
	return false
}

// list returns the named holders, and how many more hold unnamed (-1 when
// naming is off: the count is unknown).
func (h *holderSlots) list() (named []uint64, unnamed int) {
	if h.unpaired.Load() {
		return nil, -1
	}
	for i := range h.s {
		if g := h.s[i].Load() >> slotCountBits; g != 0 {
			named = append(named, g)
		}
	}
	return named, int(max(h.over.Load(), 0))
}
