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
// makes. On AMD EPYC (go run ./bench, three runs), Lock acquire+release
// went from 2.03x sync.Mutex's time to 1.24x-1.56x, RLock from 2.76x to
// 1.44x-1.79x and an RWLock read from 2.29x to 1.27x-1.45x.
//
// Each assembly path does exactly what its Go form does when nothing is
// unusual: the lock free (or, for a release, held by the caller with
// nobody waiting), no optional work on, and the id known. Otherwise it
// jumps to the Go form, a tail call, either before changing anything, or
// with what it did passed on: lockAcquireFrom and rlockAcquireFrom get the
// id already read, acquiredExtra (whose arguments take the place of the
// three that the Lock and RLock paths are declared with) does the optional
// work after a lock the assembly took, Lock's release forms get the
// caller's id, and the RWLock forms get the result of the reader count's
// add in r. The same tests run both forms: the race build runs the Go
// forms, every other amd64 build the assembly.

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

func fastLockAcquire(l *Lock, id, flags uint64)
func fastLockRelease(l *Lock, self uint64) error
func fastLockUnlock(l *Lock, self uint64)
func fastRLockAcquire(l *RLock, id, flags uint64)
func fastRLockRelease(l *RLock) error
func fastRWRLock(rw *RWLock, r int32)
func fastRWRUnlock(rw *RWLock, r int32)
func fastRWLock(rw *RWLock, r int32)
func fastRWUnlock(rw *RWLock, r int32)

// fastPathAsm reports whether the assembly fast paths are in use.
func fastPathAsm() bool { return goidOffset != 0 }
