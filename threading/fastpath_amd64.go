//go:build amd64 && !race && gc

package threading

import (
	"unsafe"

	"github.com/petermattis/goid"
)

// The fast paths of Lock's and RLock's Acquire and Release (and Lock and
// Unlock) and RWLock's four methods are written in assembly on amd64
// (fastpath_amd64.s), without the race detector (whose builds run the Go
// forms, with their annotations).
//
// Why: on a CPU where a locked instruction is cheap, calls are most of what
// these paths cost beyond sync's. In Go, Acquire is a call (it is over the
// inliner's budget), and reading the goroutine id is a second (goid.Get
// calls an assembly stub). The assembly reads the id from the runtime's g
// itself, at goidOffset, inside the one call that the inlined entry point
// makes: acquire+release went from 10.9 to 6.8 ns against sync.Mutex's
// 5.6 ns on AMD EPYC (same-run medians, BenchmarkUncontended).
//
// Each assembly path does exactly what its Go form does when nothing is
// unusual: the lock free (or, for RLock's release, held once by the caller
// with nobody waiting), no optional work on, and the id known. Otherwise it
// jumps, before changing anything, to the Go form (lockAcquireGo and the
// others below, and rwRLockFrom/rwRUnlockFrom with the reader count's add
// already made, passed in r, and the others with theirs). The same tests run both: the race build's
// and every other build's.

// goidOffset is where the goroutine id sits in the runtime's g, found at
// initialisation by looking for the id that goid.Get returns, in three
// goroutines; 0 (never the id's place: the stack's low bound is there)
// when it is not found or goid.Get is not trusted, and the assembly then
// always jumps to the Go forms.
var goidOffset = findGoidOffset()

// getgp returns the running goroutine's g.
func getgp() unsafe.Pointer

func findGoidOffset() uintptr {
	if !goidTrusted {
		return 0
	}
	// The id sits near byte 150 of g on every release since Go 1.5; g is
	// over 400 bytes long, so the first 256 are all inside it.
	const words = 256 / 8
	match := func() (m [words]bool) {
		gp, id := getgp(), uint64(goid.Get())
		for i := range m {
			m[i] = *(*uint64)(unsafe.Add(gp, i*8)) == id
		}
		return m
	}
	all := match()
	for range 2 {
		c := make(chan [words]bool)
		go func() { c <- match() }()
		m := <-c
		for i := range all {
			all[i] = all[i] && m[i]
		}
	}
	off := uintptr(0)
	for i, ok := range all {
		if ok {
			if off != 0 {
				return 0 // two places agree in every goroutine: trust neither
			}
			off = uintptr(i * 8)
		}
	}
	return off
}

// The assembly fast paths.

func fastLockAcquire(l *Lock)
func fastLockRelease(l *Lock) error
func fastLockUnlock(l *Lock)
func fastRLockAcquire(l *RLock)
func fastRLockRelease(l *RLock) error
func fastRWRLock(rw *RWLock, r int32)
func fastRWRUnlock(rw *RWLock, r int32)
func fastRWLock(rw *RWLock, r int32)
func fastRWUnlock(rw *RWLock, r int32)

// What they jump to when the fast path does not apply.

func lockAcquireGo(l *Lock)         { l.acquireGo() }
func lockReleaseGo(l *Lock) error   { return l.releaseGo() }
func lockUnlockGo(l *Lock)          { l.unlockGo() }
func rlockAcquireGo(l *RLock)       { l.acquireGo() }
func rlockReleaseGo(l *RLock) error { return l.releaseGo() }

// fastPathAsm reports whether the assembly fast paths are in use.
func fastPathAsm() bool { return goidOffset != 0 }
