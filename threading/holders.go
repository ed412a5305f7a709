package threading

import "sync/atomic"

// holderSlots names up to four holders of a primitive that can have many
// (semaphore permits, RWLock readers), at the cost of one CAS on acquire and
// one on release, so that the wait-for graph can follow a semaphore used as
// a mutex, or a reader that blocks a writer.
//
// Names are only given while the primitive is used in pairs: a goroutine
// releases what it acquired. The first release by a goroutine that holds no
// slot (a semaphore used as a signal, an RLock released by another
// goroutine) turns naming off for good: such holders are not owners, and
// naming them could make the deadlock detector report a cycle that the next
// release would break. The graph may then miss a holder; it never names a
// wrong one.
type holderSlots struct {
	s        [4]atomic.Uint64
	unpaired atomic.Bool
}

func (h *holderSlots) add(g uint64) {
	if h.unpaired.Load() {
		return
	}
	for i := range h.s {
		if h.s[i].Load() == 0 && h.s[i].CompareAndSwap(0, g) {
			return
		}
	}
	// More holders than slots: the extra ones are not named, and their
	// releases must not count as unpaired.
	h.unpaired.Store(true)
	h.clear()
}

func (h *holderSlots) remove(g uint64) {
	if h.unpaired.Load() {
		return
	}
	for i := range h.s {
		if h.s[i].Load() == g && h.s[i].CompareAndSwap(g, 0) {
			return
		}
	}
	h.unpaired.Store(true)
	h.clear()
}

func (h *holderSlots) clear() {
	for i := range h.s {
		h.s[i].Store(0)
	}
}

func (h *holderSlots) list() []uint64 {
	if h.unpaired.Load() {
		return nil
	}
	var out []uint64
	for i := range h.s {
		if g := h.s[i].Load(); g != 0 {
			out = append(out, g)
		}
	}
	return out
}
