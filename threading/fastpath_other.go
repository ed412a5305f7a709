//go:build !amd64 || race || !gc

package threading

// Without the assembly fast paths (fastpath_amd64.s: amd64, no race
// detector), the primitives' entry points are their Go forms.

// The assembly's signatures are kept: the arguments past the primitive are
// where it passes on what it has done (see fastpath_amd64.go).

func fastLockAcquire(l *Lock, g, _ uint64) { lockAcquireFrom(l, g) }

func fastLockRelease(l *Lock, self uint64) error {
	// Any thread may release a Lock, so the caller's id is not needed.
	if !raceEnabled && extra.Load() == 0 && l.m.unlockFast() {
		return nil
	}
	return lockReleaseSlow(l, self)
}

func fastLockUnlock(l *Lock, self uint64) {
	if !raceEnabled && extra.Load() == 0 && l.m.unlockFast() {
		return
	}
	lockUnlockSlow(l, self)
}

func fastRLockAcquire(l *RLock, g, _ uint64) { rlockAcquireFrom(l, g) }
func fastRLockRelease(l *RLock) error        { return rlockRelease(l) }
func fastRWRLock(rw *RWLock, r int32)        { rwRLockFrom(rw, r) }
func fastRWRUnlock(rw *RWLock, r int32)      { rwRUnlockFrom(rw, r) }
func fastRWLock(rw *RWLock, r int32)         { rwLockFrom(rw, r) }
func fastRWUnlock(rw *RWLock, r int32)       { rwUnlockFrom(rw, r) }

// fastPathAsm reports whether the assembly fast paths are in use.
func fastPathAsm() bool { return false }
