//go:build !amd64 || race || !gc

package threading

// Without the assembly fast paths (fastpath_amd64.s: amd64, no race
// detector), the primitives' entry points are their Go forms.

func fastLockAcquire(l *Lock)           { l.acquireGo() }
func fastLockRelease(l *Lock) error     { return l.releaseGo() }
func fastLockUnlock(l *Lock)            { l.unlockGo() }
func fastRLockAcquire(l *RLock)         { l.acquireGo() }
func fastRLockRelease(l *RLock) error   { return l.releaseGo() }
func fastRWRLock(rw *RWLock, r int32)   { rwRLockFrom(rw, r) }
func fastRWRUnlock(rw *RWLock, r int32) { rwRUnlockFrom(rw, r) }
func fastRWLock(rw *RWLock, r int32)    { rwLockFrom(rw, r) }
func fastRWUnlock(rw *RWLock, r int32)  { rwUnlockFrom(rw, r) }

// fastPathAsm reports whether the assembly fast paths are in use.
func fastPathAsm() bool { return false }
