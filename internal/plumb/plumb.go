// Package plumb is the plumbing between package threading and the packages
// of this module built on it (contention): what they need from each other
// and users of threading do not. threading fills in the functions when it
// is initialised; everything here may change without notice.
package plumb

import "time"

// Class is a lock class: the primitives of one kind and one label (name, or
// creation site), as Linux lockdep groups locks. ID is small and dense.
type Class struct {
	ID    uint32
	Kind  uint8 // a threading.Kind
	Label string
	// Overflow marks the one class per kind that stands for every class
	// past threading's bound on classes: it mixes unrelated locks, so
	// lock-order checking must not draw edges through it.
	Overflow bool
}

// LockTracker is told of the lock order as threads take locks (a Lock, an
// RLock at its outermost level, either side of an RWLock): Edge says that
// goroutine g, holding a lock of class from (for reading if fromRead),
// takes one of class to (for reading if toRead), or is about to block
// taking it, so that the order it would add is known even if it never does.
// threading keeps what each goroutine holds, and calls Edge from the
// acquiring goroutine only the first time in a while it sees the edge, and
// never for an edge from a class to itself or through an Overflow class.
type LockTracker interface {
	Edge(from, to *Class, fromRead, toRead bool, g uint64)
}

// StackSample is the waits (or hand-offs) of one class of primitive at one
// stack.
type StackSample struct {
	Kind  uint8 // a threading.Kind
	Label string
	// Stack is innermost frame first.
	Stack []uintptr
	Count uint64
	// Delay is the total wait, for waiter samples; 0 for releasers.
	Delay time.Duration
}

// Set by package threading.
var (
	// BreakWait ends the wait of goroutine ident with ErrDeadlock if it is
	// the wait with sequence number seq, made through a Context, and parked
	// in a queue; it reports whether it did.
	BreakWait func(ident, seq uint64) bool
	// RWState returns, for p a *threading.RWLock, the goroutine holding or
	// waiting to take its write lock (0 if none), the readers it names,
	// and how many more hold it for reading unnamed (-1: unknown, naming is
	// off for it); ok is false for any other p.
	RWState func(p any) (writer uint64, readers []uint64, unnamed int, ok bool)
	// DrainWait reports whether w (a *threading.WaitInfo) is an RWLock
	// writer's wait for the readers to leave: it waits on the readers, not
	// on a writer.
	DrainWait func(w any) bool
	// EndedThread returns the name of goroutine ident and when it ended, if
	// it is a thread (or a goroutine with a dummy record) known to have
	// ended recently (the last few thousand).
	EndedThread func(ident uint64) (name string, ended time.Time, ok bool)
	// ClassOf returns the kind of p, a threading.Primitive, and the label
	// its class is known by in metrics and wait histograms: its name, or its
	// creation site when it has none, and a Thread's creation site always
	// (thread names are per object).
	ClassOf func(p any) (kind uint8, label string)
	// Holders returns the goroutines holding p, a threading.Primitive: the
	// owner of a lock, an RWLock's writer or the readers it names, the
	// running threads of a WaitGroup or Group, a running Thread itself.
	Holders func(p any) []uint64
	// Publish delivers r, a *threading.Report, to the package's logger and
	// every observer.
	Publish func(r any)
	// SetLockTracker installs t (nil removes it).
	SetLockTracker func(t LockTracker)
	// WaiterStacks and ReleaserStacks return the stack tables wait-stack sampling
	// fills, and how many samples were dropped past their bound.
	WaiterStacks, ReleaserStacks func() ([]StackSample, uint64)
)

// Set by package contention.
var (
	// LeakedGoroutines is the number of leaked goroutines the last leak
	// check found, and whether a check has run with the profile available.
	LeakedGoroutines func() (int, bool)
)
