//go:build goexperiment.goroutineleakprofile

package leaktest

// The leak shapes. Each shapeX function builds one shape and returns, so the
// primitive is then reachable only from the goroutines it started. Those
// goroutines run named functions (leakX), so they can be found by name in a
// goroutine dump and in the goroutineleak profile. Every shapeX is noinline
// so that nothing it allocated stays in the caller's frame.

import (
	"context"
	"sync"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// hour is the "long timeout" of the timed shapes: long enough never to fire
// during a test, so the goroutine waits on a pending timer.
const hour = time.Hour

// shape is one way to get goroutines stuck.
type shape struct {
	name string
	// build starts the goroutines; named asks for WithName on what it creates.
	build func(named bool)
	// variants is {false, true} for a shape with unnamed and named
	// variants, {false} for one without.
	variants []bool
	// leaks are the goroutines (by function name) the profile must report.
	leaks []string
	// live are the goroutines it must not report: they wait on a pending
	// timer, which the runtime can reach, as it can a timed wait with sync.
	live []string
	// control marks a shape built on sync or channels alone, or on a plain
	// channel or WaitGroup in a process that uses threadmon.
	control bool
}

var both = []bool{false, true}
var unnamedOnly = []bool{false}

func opts(named bool, name string) []threading.Option {
	if named {
		return []threading.Option{threading.WithName(name)}
	}
	return nil
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// shapes lists threadmon's shapes first, then the controls.
var shapes = []shape{
	// threadmon: stuck forever, must be reported.
	{name: "lock-acquired-twice", build: shapeLockTwice, variants: both, leaks: []string{"leakLockTwice"}},
	{name: "lock-held-by-blocked-goroutine", build: shapeLockHeldByBlocked, variants: both,
		leaks: []string{"leakLockHolder", "leakLockWaiter"}},
	{name: "lock-held-by-goroutine-that-moved-on", build: shapeLockHeldByLive, variants: both,
		leaks: []string{"leakLockWaiterLiveHolder"}},
	{name: "rlock-held-by-other", build: shapeRLockHeld, variants: both,
		leaks: []string{"leakRLockHolder", "leakRLockWaiter"}},
	{name: "rwlock-writer-behind-reader", build: shapeRWWriterBehindReader, variants: both,
		leaks: []string{"leakRWReadHolder", "leakRWWriter"}},
	{name: "rwlock-reader-behind-writer", build: shapeRWReaderBehindWriter, variants: both,
		leaks: []string{"leakRWWriteHolder", "leakRWReader"}},
	{name: "condition-wait-never-notified", build: shapeConditionWait, variants: both,
		leaks: []string{"leakConditionWait"}},
	{name: "semaphore0-acquire", build: shapeSemaphoreAcquire, variants: both,
		leaks: []string{"leakSemaphoreAcquire"}},
	{name: "event-wait-never-set", build: shapeEventWait, variants: both, leaks: []string{"leakEventWait"}},
	{name: "barrier2-one-party", build: shapeBarrierWait, variants: both, leaks: []string{"leakBarrierWait"}},
	{name: "thread-join-target-blocked-on-chan", build: shapeThreadJoin, variants: both,
		leaks: []string{"leakThreadTargetChan", "leakJoiner"}},
	{name: "thread-target-blocked-on-lock", build: shapeThreadTargetLock, variants: both,
		leaks: []string{"leakLockHolderForThread", "leakThreadTargetLock"}},

	// threadmon: waits with a pending timer (1 h), not leaked in Go's
	// model, must not be reported. A holder blocked forever on a channel is
	// leaked, though, and must be.
	{name: "timeout: lock.AcquireTimeout(1h)", build: shapeLockAcquireTimeout, variants: unnamedOnly,
		leaks: []string{"leakTimedLockHolder"}, live: []string{"liveLockAcquireTimeout"}},
	{name: "timeout: condition.WaitTimeout(1h)", build: shapeConditionWaitTimeout, variants: unnamedOnly,
		live: []string{"liveConditionWaitTimeout"}},
	{name: "timeout: semaphore0.AcquireTimeout(1h)", build: shapeSemaphoreAcquireTimeout, variants: unnamedOnly,
		live: []string{"liveSemaphoreAcquireTimeout"}},
	{name: "timeout: event.WaitTimeout(1h)", build: shapeEventWaitTimeout, variants: unnamedOnly,
		live: []string{"liveEventWaitTimeout"}},
	{name: "timeout: barrier2.WaitTimeout(1h)", build: shapeBarrierWaitTimeout, variants: unnamedOnly,
		live: []string{"liveBarrierWaitTimeout"}},
	{name: "timeout: thread.JoinTimeout(1h)", build: shapeThreadJoinTimeout, variants: unnamedOnly,
		leaks: []string{"leakTimedThreadTarget"}, live: []string{"liveJoinTimeout"}},

	// Controls with sync and channels.
	{name: "control: sync.Mutex locked twice", build: shapeSyncMutexTwice, variants: unnamedOnly, control: true,
		leaks: []string{"leakSyncMutexTwice"}},
	{name: "control: sync.Mutex held by blocked goroutine", build: shapeSyncMutexHeldByBlocked, variants: unnamedOnly,
		control: true, leaks: []string{"leakSyncMutexHolder", "leakSyncMutexWaiter"}},
	{name: "control: sync.Mutex held by goroutine that moved on", build: shapeSyncMutexHeldByLive,
		variants: unnamedOnly, control: true, leaks: []string{"leakSyncMutexWaiterLiveHolder"}},
	{name: "control: sync.RWMutex writer behind reader", build: shapeSyncRWWriterBehindReader, variants: unnamedOnly,
		control: true, leaks: []string{"leakSyncRWReadHolder", "leakSyncRWWriter"}},
	{name: "control: sync.RWMutex reader behind writer", build: shapeSyncRWReaderBehindWriter, variants: unnamedOnly,
		control: true, leaks: []string{"leakSyncRWWriteHolder", "leakSyncRWReader"}},
	{name: "control: sync.Cond wait never signalled", build: shapeSyncCondWait, variants: unnamedOnly, control: true,
		leaks: []string{"leakSyncCondWait"}},
	{name: "control: sync.WaitGroup wait", build: shapeSyncWaitGroupWait, variants: unnamedOnly, control: true,
		leaks: []string{"leakSyncWaitGroupWait"}},
	{name: "control: chan receive", build: shapeChanRecv, variants: unnamedOnly, control: true,
		leaks: []string{"leakChanRecv"}},
	{name: "control: join by chan, target blocked", build: shapeChanJoin, variants: unnamedOnly, control: true,
		leaks: []string{"leakChanTarget", "leakChanJoiner"}},
	{name: "control: select with 1h timer", build: shapeSelectTimer, variants: unnamedOnly, control: true,
		live: []string{"liveSelectTimer"}},

	// Controls: threadmon never hides a channel or WaitGroup leak. The
	// leaking goroutines waited on a threading.Lock first, so they have a
	// thread record.
	{name: "control: chan leak, goroutine known to threadmon", build: shapeHideChan, variants: unnamedOnly,
		control: true, leaks: []string{"leakChanAfterLock"}},
	{name: "control: WaitGroup leak, goroutine known to threadmon", build: shapeHideWaitGroup,
		variants: unnamedOnly, control: true, leaks: []string{"leakWaitGroupAfterLock"}},
	{name: "control: threading.Thread target blocked on its own chan", build: shapeHideThreadOwnChan,
		variants: unnamedOnly, control: true, leaks: []string{"leakThreadOwnChan"}},
	{name: "control: threading.Thread target blocked on a captured chan", build: shapeHideThreadChan,
		variants: unnamedOnly, control: true, leaks: []string{"leakThreadOnlyChan"}},
}

// ---- threadmon, stuck forever ----

//go:noinline
func shapeLockTwice(named bool) {
	l := threading.NewLock(opts(named, "leak-lock")...)
	go leakLockTwice(l)
}

func leakLockTwice(l *threading.Lock) {
	l.Acquire()
	l.Acquire() // not reentrant: waits forever
}

//go:noinline
func shapeLockHeldByBlocked(named bool) {
	l := threading.NewLock(opts(named, "leak-lock")...)
	held := make(chan struct{})
	go leakLockHolder(l, held, make(chan struct{}))
	<-held
	go leakLockWaiter(l)
}

func leakLockHolder(l *threading.Lock, held chan<- struct{}, never <-chan struct{}) {
	l.Acquire()
	close(held)
	<-never
	_ = l.Release()
}

func leakLockWaiter(l *threading.Lock) {
	l.Acquire()
	_ = l.Release()
}

// shapeLockHeldByLive: the creator takes the lock and goes on (the test's
// goroutine stays alive and runnable) without keeping a reference: the
// "forgot to Unlock" leak. Holding a lock is an identity, not a reference.
//
//go:noinline
func shapeLockHeldByLive(named bool) {
	l := threading.NewLock(opts(named, "leak-lock")...)
	l.Acquire()
	go leakLockWaiterLiveHolder(l)
}

func leakLockWaiterLiveHolder(l *threading.Lock) {
	l.Acquire()
	_ = l.Release()
}

//go:noinline
func shapeRLockHeld(named bool) {
	r := threading.NewRLock(opts(named, "leak-rlock")...)
	held := make(chan struct{})
	go leakRLockHolder(r, held, make(chan struct{}))
	<-held
	go leakRLockWaiter(r)
}

func leakRLockHolder(r *threading.RLock, held chan<- struct{}, never <-chan struct{}) {
	r.Acquire()
	r.Acquire() // reentrant
	close(held)
	<-never
}

func leakRLockWaiter(r *threading.RLock) {
	r.Acquire()
}

//go:noinline
func shapeRWWriterBehindReader(named bool) {
	rw := threading.NewRWLock(opts(named, "leak-rwlock")...)
	held := make(chan struct{})
	go leakRWReadHolder(rw, held, make(chan struct{}))
	<-held
	go leakRWWriter(rw)
}

func leakRWReadHolder(rw *threading.RWLock, held chan<- struct{}, never <-chan struct{}) {
	rw.RLock()
	close(held)
	<-never
}

func leakRWWriter(rw *threading.RWLock) {
	rw.Lock()
}

//go:noinline
func shapeRWReaderBehindWriter(named bool) {
	rw := threading.NewRWLock(opts(named, "leak-rwlock")...)
	held := make(chan struct{})
	go leakRWWriteHolder(rw, held, make(chan struct{}))
	<-held
	go leakRWReader(rw)
}

func leakRWWriteHolder(rw *threading.RWLock, held chan<- struct{}, never <-chan struct{}) {
	rw.Lock()
	close(held)
	<-never
}

func leakRWReader(rw *threading.RWLock) {
	rw.RLock()
}

//go:noinline
func shapeConditionWait(named bool) {
	c := threading.NewCondition(threading.NewLock(), opts(named, "leak-condition")...)
	go leakConditionWait(c)
}

func leakConditionWait(c *threading.Condition) {
	c.Acquire()
	_ = c.Wait()
}

//go:noinline
func shapeSemaphoreAcquire(named bool) {
	s := must(threading.NewSemaphore(0, opts(named, "leak-semaphore")...))
	go leakSemaphoreAcquire(s)
}

func leakSemaphoreAcquire(s *threading.Semaphore) {
	s.Acquire()
}

//go:noinline
func shapeEventWait(named bool) {
	e := threading.NewEvent(opts(named, "leak-event")...)
	go leakEventWait(e)
}

func leakEventWait(e *threading.Event) {
	e.Wait()
}

//go:noinline
func shapeBarrierWait(named bool) {
	b := must(threading.NewBarrier(2, opts(named, "leak-barrier")...))
	go leakBarrierWait(b)
}

func leakBarrierWait(b *threading.Barrier) {
	_, _ = b.Wait()
}

type chanTarget struct{ never chan struct{} }

func (c *chanTarget) leakThreadTargetChan(context.Context) error {
	<-c.never
	return nil
}

//go:noinline
func shapeThreadJoin(named bool) {
	t := threading.NewThread((&chanTarget{make(chan struct{})}).leakThreadTargetChan, opts(named, "leak-thread")...)
	if err := t.Start(); err != nil {
		panic(err)
	}
	go leakJoiner(t)
}

func leakJoiner(t *threading.Thread) {
	_ = t.Join()
}

type lockTarget struct{ l *threading.Lock }

func (lt *lockTarget) leakThreadTargetLock(context.Context) error {
	lt.l.Acquire()
	_ = lt.l.Release()
	return nil
}

//go:noinline
func shapeThreadTargetLock(named bool) {
	l := threading.NewLock(opts(named, "leak-lock")...)
	held := make(chan struct{})
	go leakLockHolderForThread(l, held, make(chan struct{}))
	<-held
	t := threading.NewThread((&lockTarget{l}).leakThreadTargetLock, opts(named, "leak-thread")...)
	if err := t.Start(); err != nil {
		panic(err)
	}
}

func leakLockHolderForThread(l *threading.Lock, held chan<- struct{}, never <-chan struct{}) {
	l.Acquire()
	close(held)
	<-never
}

// ---- threadmon, timed waits ----

//go:noinline
func shapeLockAcquireTimeout(bool) {
	l := threading.NewLock()
	held := make(chan struct{})
	go leakTimedLockHolder(l, held, make(chan struct{}))
	<-held
	go liveLockAcquireTimeout(l)
}

func leakTimedLockHolder(l *threading.Lock, held chan<- struct{}, never <-chan struct{}) {
	l.Acquire()
	close(held)
	<-never
}

func liveLockAcquireTimeout(l *threading.Lock) {
	if l.AcquireTimeout(hour) {
		_ = l.Release()
	}
}

//go:noinline
func shapeConditionWaitTimeout(bool) {
	go liveConditionWaitTimeout(threading.NewCondition(threading.NewLock()))
}

func liveConditionWaitTimeout(c *threading.Condition) {
	c.Acquire()
	_, _ = c.WaitTimeout(hour)
	_ = c.Release()
}

//go:noinline
func shapeSemaphoreAcquireTimeout(bool) {
	go liveSemaphoreAcquireTimeout(must(threading.NewSemaphore(0)))
}

func liveSemaphoreAcquireTimeout(s *threading.Semaphore) {
	s.AcquireTimeout(hour)
}

//go:noinline
func shapeEventWaitTimeout(bool) {
	go liveEventWaitTimeout(threading.NewEvent())
}

func liveEventWaitTimeout(e *threading.Event) {
	e.WaitTimeout(hour)
}

//go:noinline
func shapeBarrierWaitTimeout(bool) {
	go liveBarrierWaitTimeout(must(threading.NewBarrier(2)))
}

func liveBarrierWaitTimeout(b *threading.Barrier) {
	_, _ = b.WaitTimeout(hour)
}

type timedTarget struct{ never chan struct{} }

func (c *timedTarget) leakTimedThreadTarget(context.Context) error {
	<-c.never
	return nil
}

//go:noinline
func shapeThreadJoinTimeout(bool) {
	t := threading.NewThread((&timedTarget{make(chan struct{})}).leakTimedThreadTarget)
	if err := t.Start(); err != nil {
		panic(err)
	}
	go liveJoinTimeout(t)
}

func liveJoinTimeout(t *threading.Thread) {
	_, _ = t.JoinTimeout(hour)
}

// ---- controls: sync and channels ----

// mutexBox pads a sync.Mutex: alone it is 8 pointer-free bytes, which the
// runtime's tiny allocator packs into a 16-byte block with other small
// objects; a live neighbour then keeps the block marked and the leak
// detector misses the waiter. (The runtime's own test starts 1000 goroutines
// per case for this reason.) Padded, it gets an object of its own.
type mutexBox struct {
	sync.Mutex
	_ [32]byte
}

//go:noinline
func shapeSyncMutexTwice(bool) {
	go leakSyncMutexTwice(new(mutexBox))
}

func leakSyncMutexTwice(m *mutexBox) {
	m.Lock()
	m.Lock()
}

//go:noinline
func shapeSyncMutexHeldByBlocked(bool) {
	m := new(mutexBox)
	held := make(chan struct{})
	go leakSyncMutexHolder(m, held, make(chan struct{}))
	<-held
	go leakSyncMutexWaiter(m)
}

func leakSyncMutexHolder(m *mutexBox, held chan<- struct{}, never <-chan struct{}) {
	m.Lock()
	close(held)
	<-never
	m.Unlock()
}

func leakSyncMutexWaiter(m *mutexBox) {
	m.Lock()
	m.Unlock()
}

//go:noinline
func shapeSyncMutexHeldByLive(bool) {
	m := new(mutexBox)
	m.Lock()
	go leakSyncMutexWaiterLiveHolder(m)
}

func leakSyncMutexWaiterLiveHolder(m *mutexBox) {
	m.Lock()
	m.Unlock()
}

//go:noinline
func shapeSyncRWWriterBehindReader(bool) {
	rw := new(sync.RWMutex)
	held := make(chan struct{})
	go leakSyncRWReadHolder(rw, held, make(chan struct{}))
	<-held
	go leakSyncRWWriter(rw)
}

func leakSyncRWReadHolder(rw *sync.RWMutex, held chan<- struct{}, never <-chan struct{}) {
	rw.RLock()
	close(held)
	<-never
}

func leakSyncRWWriter(rw *sync.RWMutex) {
	rw.Lock()
}

//go:noinline
func shapeSyncRWReaderBehindWriter(bool) {
	rw := new(sync.RWMutex)
	held := make(chan struct{})
	go leakSyncRWWriteHolder(rw, held, make(chan struct{}))
	<-held
	go leakSyncRWReader(rw)
}

func leakSyncRWWriteHolder(rw *sync.RWMutex, held chan<- struct{}, never <-chan struct{}) {
	rw.Lock()
	close(held)
	<-never
}

func leakSyncRWReader(rw *sync.RWMutex) {
	rw.RLock()
}

//go:noinline
func shapeSyncCondWait(bool) {
	go leakSyncCondWait(sync.NewCond(new(mutexBox)))
}

func leakSyncCondWait(c *sync.Cond) {
	c.L.Lock()
	c.Wait()
	c.L.Unlock()
}

//go:noinline
func shapeSyncWaitGroupWait(bool) {
	wg := new(sync.WaitGroup)
	wg.Add(1)
	go leakSyncWaitGroupWait(wg)
}

func leakSyncWaitGroupWait(wg *sync.WaitGroup) {
	wg.Wait()
}

//go:noinline
func shapeChanRecv(bool) {
	go leakChanRecv(make(chan int))
}

func leakChanRecv(ch <-chan int) {
	<-ch
}

//go:noinline
func shapeChanJoin(bool) {
	done := make(chan struct{})
	go leakChanTarget(make(chan struct{}), done)
	go leakChanJoiner(done)
}

func leakChanTarget(never <-chan struct{}, done chan<- struct{}) {
	<-never
	close(done)
}

func leakChanJoiner(done <-chan struct{}) {
	<-done
}

//go:noinline
func shapeSelectTimer(bool) {
	go liveSelectTimer(make(chan int))
}

func liveSelectTimer(ch <-chan int) {
	t := time.NewTimer(hour)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// ---- controls: threadmon never hides a channel or WaitGroup leak ----

// waitOnLockOnce makes the calling goroutine wait on a threading.Lock once
// (the slow path, which gives it a thread record), then returns.
func waitOnLockOnce() {
	l := threading.NewLock()
	held, done := make(chan struct{}), make(chan struct{})
	go func() {
		l.Acquire()
		close(held)
		pollUntil("a waiter on the warm-up lock", func() bool { return l.Stats().Waiters > 0 })
		_ = l.Release()
		close(done)
	}()
	<-held
	l.Acquire() // waits until the goroutine above releases it
	_ = l.Release()
	<-done
}

//go:noinline
func shapeHideChan(bool) {
	go leakChanAfterLock(make(chan int))
}

func leakChanAfterLock(ch <-chan int) {
	waitOnLockOnce()
	<-ch
}

//go:noinline
func shapeHideWaitGroup(bool) {
	wg := new(sync.WaitGroup)
	wg.Add(1)
	go leakWaitGroupAfterLock(wg)
}

func leakWaitGroupAfterLock(wg *sync.WaitGroup) {
	waitOnLockOnce()
	wg.Wait()
}

// leakThreadOwnChan blocks on a channel it made itself: nothing but its
// own stack can reach it.
func leakThreadOwnChan(context.Context) error {
	waitOnLockOnce()
	never := make(chan struct{})
	<-never
	return nil
}

//go:noinline
func shapeHideThreadOwnChan(bool) {
	if err := threading.NewThread(leakThreadOwnChan).Start(); err != nil {
		panic(err)
	}
}

// onlyChanTarget's method value is the target: the channel is reachable
// from the target, as it is from a closure passed to a go statement, which
// nothing keeps once the goroutine runs.
type onlyChanTarget struct{ never chan struct{} }

func (c *onlyChanTarget) leakThreadOnlyChan(context.Context) error {
	waitOnLockOnce()
	<-c.never
	return nil
}

//go:noinline
func shapeHideThreadChan(bool) {
	t := threading.NewThread((&onlyChanTarget{make(chan struct{})}).leakThreadOnlyChan)
	if err := t.Start(); err != nil {
		panic(err)
	}
}
