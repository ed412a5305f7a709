// Package threading is Python's threading module in Go, with every primitive
// observable: a drop-in for the sync types a Go service already uses, and a
// straight port target for Python code.
//
// # Names
//
//	Python                      Go
//	threading.Lock()            Lock (NewLock, or the zero value); Acquire/Release, Lock/Unlock
//	threading.RLock()           RLock: reentrant, owned by the thread that acquired it
//	(sync.RWMutex)              RWLock: Lock/Unlock, RLock/RUnlock, TryLock, RLocker
//	threading.Condition(lock)   Condition (NewCondition): Wait, WaitFor, Notify, NotifyAll
//	threading.Semaphore(n)      Semaphore (NewSemaphore); BoundedSemaphore
//	threading.Event()           Event: Set, Clear, IsSet, Wait
//	threading.Barrier(n)        Barrier (NewBarrier): Wait, Reset, Abort
//	threading.Thread(target)    Thread (NewThread): Start, Join, Name, Ident, Daemon
//	threading.Timer(t, fn)      Timer (NewTimer): a Thread with Cancel
//	threading.local()           Local[T]
//	current_thread(), ...       CurrentThread, MainThread, Enumerate, ActiveCount, GetIdent
//	settrace, setprofile        SetTrace, SetProfile
//	excepthook                  SetExceptHook, DefaultExceptHook
//	TIMEOUT_MAX                 TimeoutMax
//
// Every blocking call has three forms: X() waits without limit, XTimeout(d)
// waits at most d (d < 0: no limit; 0: try once), XContext(ctx) waits until
// ctx is done. Python's exceptions are errors compared with errors.Is
// (ErrRuntime, ErrValue and their members). A goroutine this package did
// not start is a dummy thread, as Python sees threads it did not start.
//
// # Fast path, slow path, pull
//
// The fast path (an uncontended acquire or release) is one atomic operation
// on the primitive and a counter bump: no clock read, no allocation, no hook
// call, no global lock.
//
// The slow path (a caller must wait) reads the clock, registers the
// primitive (weakly: a primitive that is garbage is forgotten), records in
// the waiting thread's record what it waits on, parks on a channel made for
// that wait, and when the wait ends delivers one WaitEvent to the observers.
// Records and registries hold identities and weak pointers, never what a
// parked goroutine waits on, so Go's goroutine-leak profile still finds a
// goroutine stuck forever on a primitive nothing else can reach.
//
// Everything else is pulled when asked: Stats, Primitives, Classes,
// Enumerate and Thread.Waiting are read by collectors (a Prometheus scrape,
// a request for the wait-for graph), never pushed.
//
// # Where to plug in
//
// AddObserver attaches an Observer (waits, sampled holds, thread starts and
// ends, misuse, reports); package metrics and package tracing are observers.
// SetLogger sets where the package's own messages go (log/slog by default;
// package threading/zaplog for zap; nil for none). Package contention builds
// the live wait-for graph, finds deadlocks, checks lock order and serves it
// all over HTTP. SetHoldSampling times a sample of lock holds.
//
// # Go's own tools
//
// With this package's types a program keeps what it had with sync: -race
// reports the same races (readers do not synchronise with each other, a
// failed TryLock is no synchronisation), testing/synctest bubbles see waits
// on these primitives as durably blocking, the goroutineleak profile reports
// goroutines blocked forever on them, and the runtime's "all goroutines are
// asleep" check still fires (this package imports no net/http).
package threading
