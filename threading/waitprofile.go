package threading

import (
	"hash/maphash"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/threadmon/threadmon/internal/plumb"
)

// A sampled wait that blocked (SetWaitStackSampling) is also counted by its
// stack (where the waiter blocked), and a sampled hand-off of a lock or a
// permit to a parked waiter by the releaser's stack: the waiter and releaser
// stacks of a contention profile, each sample weighted by the sampling rate.
// The tables are bounded; samples past the bound are counted as dropped.

// stackSample is the waits (or hand-offs) of one class of primitive at one
// stack.
type stackSample = plumb.StackSample

const maxStackSamples = 4096

type stackTable struct {
	mu      sync.Mutex
	m       map[uint64]*stackSample
	dropped atomic.Uint64
}

var (
	waiterStacks, releaserStacks stackTable
	stackSeed                    = maphash.MakeSeed()
)

func (t *stackTable) add(kind Kind, label string, pcs []uintptr, d time.Duration, weight uint64) {
	var h maphash.Hash
	h.SetSeed(stackSeed)
	h.WriteString(label)
	h.WriteByte(byte(kind))
	for _, pc := range pcs {
		var b [8]byte
		for i := range b {
			b[i] = byte(pc >> (8 * i))
		}
		h.Write(b[:])
	}
	key := h.Sum64()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[uint64]*stackSample)
	}
	s := t.m[key]
	if s == nil {
		if len(t.m) >= maxStackSamples {
			t.dropped.Add(1)
			return
		}
		s = &stackSample{Kind: uint8(kind), Label: label, Stack: append([]uintptr(nil), pcs...)}
		t.m[key] = s
	}
	s.Count += weight
	s.Delay += d * time.Duration(weight)
}

func (t *stackTable) snapshot() []stackSample {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]stackSample, 0, len(t.m))
	for _, s := range t.m {
		c := *s
		c.Stack = append([]uintptr(nil), s.Stack...)
		out = append(out, c)
	}
	return out
}

// waiterStacksSnapshot returns the waits counted by the stacks where they blocked
// (sampled: see SetWaitStackSampling), and how many were dropped past the bound.
func waiterStacksSnapshot() ([]stackSample, uint64) {
	return waiterStacks.snapshot(), waiterStacks.dropped.Load()
}

// releaserStacksSnapshot returns the hand-offs to parked waiters counted by the
// releasers' stacks (sampled: see SetWaitStackSampling), and how many were dropped.
func releaserStacksSnapshot() ([]stackSample, uint64) {
	return releaserStacks.snapshot(), releaserStacks.dropped.Load()
}

// recordReleaser counts a hand-off by the calling goroutine to a waiter of
// e, if the waiter had parked (read before its wake: a woken waiter is
// reused at once). A wake that catches its waiter still yielding costs the
// releaser nothing.
func recordReleaser(e *ext, parked bool) {
	if e == nil || !parked {
		return
	}
	w, ok := sampleStack()
	if !ok {
		return
	}
	var pcs [32]uintptr
	n := runtime.Callers(3, pcs[:])
	releaserStacks.add(e.kind, entryLabel(e.meta), pcs[:n], 0, w)
}
