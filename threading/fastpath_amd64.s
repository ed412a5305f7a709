//go:build amd64 && !race && gc

#include "textflag.h"
#include "go_asm.h"

// See fastpath_amd64.go. Each path does what its Go form does in the
// common case, and jumps to the Go form, before changing anything, in any
// other (a tail call: the Go function takes the same arguments).

// ownerMask keeps a mutexCore's locked bit and holder id.
#define ownerMask $~(const_cntMask|const_mWaiters|const_mStarving)

// GOID loads the running goroutine's id into CX, or jumps to fail when its
// place in g is unknown (goidOffset 0). DX is clobbered.
#define GOID(fail) \
	MOVQ	·goidOffset(SB), DX; \
	TESTQ	DX, DX; \
	JEQ	fail; \
	MOVQ	(TLS), CX; \
	MOVQ	(CX)(DX*1), CX

// UNLOCKWORD is mutexCore.unlockFast on the word in AX, loaded from the
// mutexCore at DI+m: unless it is locked with nobody waiting, or the CAS
// finds the word changed, it jumps to fail. BX is clobbered.
#define UNLOCKWORD(m, fail) \
	MOVQ	AX, BX; \
	ANDQ	$(const_mLocked|const_mWaiters), BX; \
	CMPQ	BX, $const_mLocked; \
	JNE	fail; \
	MOVQ	AX, BX; \
	ANDQ	$const_cntMask, BX; \
	LOCK; \
	CMPXCHGQ	BX, (m+mutexCore_state)(DI); \
	JNE	fail

// RELEASE is the release of the Lock at DI when nothing optional is on and
// nobody waits; any thread may release a Lock. It tries first the word that
// the caller's own acquisition made (its id, locked, the count in the ext):
// one locked instruction, without a load first that would fetch the line
// shared, only to need it exclusive for the CAS. That CAS fails for
// another releaser, or a count in the word, and leaves the word in AX for
// unlockFast's CAS. Otherwise it jumps to slow, with the caller's id in
// self when it has read it.
#define RELEASE(slow) \
	GOID(slow); \
	MOVL	·extra(SB), AX; \
	TESTL	AX, AX; \
	JNE	extra; \
	MOVQ	CX, AX; \
	SHLQ	$const_ownerShift, AX; \
	ORQ	$const_mLocked, AX; \
	XORL	BX, BX; \
	LOCK; \
	CMPXCHGQ	BX, (Lock_m+mutexCore_state)(DI); \
	JEQ	done; \
	UNLOCKWORD(Lock_m, extra); \
	JMP	done; \
extra: \
	MOVQ	CX, self+8(FP); \
	JMP	slow

// LOCKFAST is mutexCore.lockFast on the mutexCore at DI+m for the id in
// CX (kept there); it jumps to fail when the lock is not taken. AX, BX and
// R8 are clobbered. With an ext, the address of the count is loaded before
// the CAS: a locked instruction lets no later load pass it.
#define LOCKFAST(m, fail) \
	MOVQ	CX, BX; \
	SHLQ	$const_ownerShift, BX; \
	ORQ	$const_mLocked, BX; \
	MOVQ	(m+mutexCore_x)(DI), R8; \
	TESTQ	R8, R8; \
	JEQ	noext; \
	MOVQ	ext_meta(R8), R8; \
	XORL	AX, AX; \
	LOCK; \
	CMPXCHGQ	BX, (m+mutexCore_state)(DI); \
	JNE	fail; \
	INCQ	meta_cnt(R8); \
	JMP	taken; \
noext: \
	MOVQ	(m+mutexCore_state)(DI), AX; \
	CMPQ	AX, $const_cntMask; \
	JAE	fail; \
	LEAQ	1(AX)(BX*1), BX; \
	LOCK; \
	CMPXCHGQ	BX, (m+mutexCore_state)(DI); \
	JNE	fail; \
taken:

// func getgp() unsafe.Pointer
TEXT ·getgp(SB), NOSPLIT, $0-8
	MOVQ	(TLS), AX
	MOVQ	AX, ret+0(FP)
	RET

// func fastLockAcquire(l *Lock, id, flags uint64)
TEXT ·fastLockAcquire(SB), NOSPLIT, $0-24
	MOVQ	l+0(FP), DI
	GOID(gofull)
	// With an ext: a CAS from 0, and the holder counts in the ext's meta.
	// Without: the count rides in the word, unless it is full.
	LOCKFAST(Lock_m, slow)
	MOVL	·extra(SB), AX
	TESTL	AX, AX
	JNE	extra
	RET
extra:
	// acquiredExtra(&l.m.x, id, KindLock|extraSample), in place.
	LEAQ	(Lock_m+mutexCore_x)(DI), AX
	MOVQ	AX, l+0(FP)
	MOVQ	CX, id+8(FP)
	MOVQ	$(const_KindLock|const_extraSample), flags+16(FP)
	JMP	·acquiredExtra(SB)
slow:
	MOVQ	CX, id+8(FP)
gofull:
	JMP	·lockAcquireFrom(SB)

// func fastLockRelease(l *Lock, self uint64) error
TEXT ·fastLockRelease(SB), NOSPLIT, $0-32
	MOVQ	l+0(FP), DI
	RELEASE(slow)
done:
	MOVQ	$0, ret_itable+16(FP)
	MOVQ	$0, ret_data+24(FP)
	RET
slow:
	JMP	·lockReleaseSlow(SB)

// func fastLockUnlock(l *Lock, self uint64)
TEXT ·fastLockUnlock(SB), NOSPLIT, $0-16
	MOVQ	l+0(FP), DI
	RELEASE(slow)
done:
	RET
slow:
	JMP	·lockUnlockSlow(SB)

// func fastRLockAcquire(l *RLock, id, flags uint64)
TEXT ·fastRLockAcquire(SB), NOSPLIT, $0-24
	MOVQ	l+0(FP), DI
	GOID(gofull)
	LOCKFAST(RLock_m, slow)
	MOVQ	$1, RLock_count(DI)
	MOVL	·extra(SB), AX
	TESTL	AX, AX
	JNE	extra
	RET
extra:
	LEAQ	(RLock_m+mutexCore_x)(DI), AX
	MOVQ	AX, l+0(FP)
	MOVQ	CX, id+8(FP)
	MOVQ	$(const_KindRLock|const_extraSample), flags+16(FP)
	JMP	·acquiredExtra(SB)
slow:
	// Held already (by another, or by the caller: a recursion).
	MOVQ	CX, id+8(FP)
gofull:
	JMP	·rlockAcquireFrom(SB)

// func fastRLockRelease(l *RLock) error
TEXT ·fastRLockRelease(SB), NOSPLIT, $0-24
	MOVQ	l+0(FP), DI
	MOVL	·extra(SB), AX
	TESTL	AX, AX
	JNE	slow
	GOID(slow)
	SHLQ	$const_ownerShift, CX
	ORQ	$const_mLocked, CX
	MOVQ	(RLock_m+mutexCore_state)(DI), AX
	MOVQ	ownerMask, BX
	ANDQ	AX, BX
	CMPQ	BX, CX
	JNE	slow // not the caller's: the Go form reports it
	MOVQ	RLock_count(DI), BX
	CMPQ	BX, $1
	JLS	outer
	DECQ	BX
	MOVQ	BX, RLock_count(DI)
	JMP	done
outer:
	// The outermost release: unlock, if nobody waits.
	TESTQ	$const_mWaiters, AX
	JNE	slow
	MOVQ	$0, RLock_count(DI)
	MOVQ	AX, BX
	ANDQ	$const_cntMask, BX
	LOCK
	CMPXCHGQ	BX, (RLock_m+mutexCore_state)(DI)
	JNE	slow // a waiter came: the Go form finds the count 0 and unlocks
done:
	MOVQ	$0, ret_itable+8(FP)
	MOVQ	$0, ret_data+16(FP)
	RET
slow:
	JMP	·rlockRelease(SB)

// func fastRWRLock(rw *RWLock, r int32)
TEXT ·fastRWRLock(SB), NOSPLIT, $0-12
	MOVQ	rw+0(FP), DI
	GOID(gofull)
	MOVL	$1, AX
	LOCK
	XADDL	AX, RWLock_readerCount(DI)
	INCL	AX
	MOVQ	CX, BX
	SHRQ	$(64-const_slotCountBits), BX
	JNE	rest // an id past the slots' 40 bits
	SHLQ	$const_slotCountBits, CX
	CMPL	AX, $1
	JLT	rest // a writer holds or waits
	JGT	others
	// The first reader: slot 0 is the caller's (holderSlots.addFirst),
	// unless its count is full.
	MOVQ	(RWLock_readers+holderSlots_s)(DI), SI
	ANDQ	$const_slotCountMask, SI
	CMPQ	SI, $const_slotCountMask
	JEQ	rest
	INCQ	SI
	ORQ	CX, SI
	MOVQ	SI, (RWLock_readers+holderSlots_s)(DI)
named:
	MOVL	·extra(SB), AX
	TESTL	$const_trackBit, AX
	JNE	tracked
	RET
tracked:
	JMP	·rwRLockTracked(SB)
others:
	// One of several readers: holderSlots.add's common case, a free slot
	// among 1 to 3 claimed with a CAS, while naming is on. Anything else
	// (no free slot, a count that wraps) is the Go form's.
	MOVL	AX, R9
	MOVL	(RWLock_readers+holderSlots_unpaired)(DI), BX
	TESTL	BX, BX
	JNE	restr9
	LEAQ	(RWLock_readers+holderSlots_s+8)(DI), R10
	MOVQ	$3, R11
claim:
	MOVQ	(R10), AX
	MOVQ	AX, BX
	SHRQ	$const_slotCountBits, BX
	JNE	nextslot // taken
	LEAQ	1(AX), BX
	ANDQ	$const_slotCountMask, BX
	JEQ	restr9 // the slot's count wraps
	ORQ	CX, BX
	LOCK
	CMPXCHGQ	BX, (R10)
	JEQ	named
nextslot:
	ADDQ	$8, R10
	DECQ	R11
	JNE	claim
restr9:
	MOVL	R9, AX
rest:
	MOVL	AX, r+8(FP)
	JMP	·rwRLockFrom(SB)
gofull:
	MOVL	$0, r+8(FP)
	JMP	·rwRLockFrom(SB)

// func fastRWRUnlock(rw *RWLock, r int32)
TEXT ·fastRWRUnlock(SB), NOSPLIT, $0-12
	MOVQ	rw+0(FP), DI
	MOVL	·extra(SB), AX
	TESTL	$const_trackBit, AX
	JNE	gofull
	GOID(gofull)
	// holderSlots.remove's common case: the caller is named in one of the
	// slots. Only the holder writes a slot that names it (slot 0 is the
	// first reader's alone, and claims CAS free slots only), so a plain
	// store frees it. Naming being off (unpaired) is the Go form's to check
	// when the caller is not named: a name left from before is freed all
	// the same, which changes nothing that is read while naming is off.
	LEAQ	(RWLock_readers+holderSlots_s)(DI), R10
	MOVQ	$4, R11
find:
	MOVQ	(R10), AX
	MOVQ	AX, SI
	SHRQ	$const_slotCountBits, SI
	CMPQ	SI, CX
	JNE	nextslot
	ANDQ	$const_slotCountMask, AX
	MOVQ	AX, (R10)
	JMP	leave
nextslot:
	ADDQ	$8, R10
	DECQ	R11
	JNE	find
	JMP	gofull // unnamed, or not a holder: the Go form's
leave:
	MOVL	$-1, AX
	LOCK
	XADDL	AX, RWLock_readerCount(DI)
	DECL	AX
	JS	after // a writer waits, or there was no reader
	RET
after:
	MOVL	AX, r+8(FP)
	JMP	·rwRUnlockFrom(SB)
gofull:
	MOVL	$0, r+8(FP)
	JMP	·rwRUnlockFrom(SB)

// func fastRWLock(rw *RWLock, r int32)
TEXT ·fastRWLock(SB), NOSPLIT, $0-12
	MOVQ	rw+0(FP), DI
	MOVL	·extra(SB), AX
	TESTL	AX, AX
	JNE	gofull
	GOID(gofull)
	// The writers' lock, as fastLockAcquire takes a Lock.
	LOCKFAST(RWLock_w, gofull)
readers:
	// Announce the writer: readers that come now wait. The count before
	// the add is the readers still in; with none, the lock is taken.
	MOVL	$-const_rwMaxReaders, AX
	LOCK
	XADDL	AX, RWLock_readerCount(DI)
	TESTL	AX, AX
	JNE	rest
	RET
rest:
	MOVL	AX, r+8(FP)
	JMP	·rwLockFrom(SB)
gofull:
	MOVL	$-1, r+8(FP)
	JMP	·rwLockFrom(SB)

// func fastRWUnlock(rw *RWLock, r int32)
TEXT ·fastRWUnlock(SB), NOSPLIT, $0-12
	MOVQ	rw+0(FP), DI
	MOVL	·extra(SB), AX
	TESTL	AX, AX
	JNE	gofull
	MOVL	$const_rwMaxReaders, SI
	LOCK
	XADDL	SI, RWLock_readerCount(DI)
	ADDL	$const_rwMaxReaders, SI
	JNE	rest // readers queued behind the writer, or no writer held it
	// The writers' lock: mutexCore.unlockFast.
	MOVQ	(RWLock_w+mutexCore_state)(DI), AX
	UNLOCKWORD(RWLock_w, rest)
	RET
rest:
	MOVL	SI, r+8(FP)
	JMP	·rwUnlockFrom(SB)
gofull:
	MOVL	$-1, r+8(FP)
	JMP	·rwUnlockFrom(SB)
