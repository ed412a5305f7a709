package threading

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// Thread states.
const (
	threadInitial uint32 = iota
	threadStarting
	threadAlive
	threadStopped
)

// Thread is Python's threading.Thread: a goroutine with a name, an ident, a
// daemon flag, and a join. Alien goroutines that call into the package are
// seen as dummy threads ("Dummy-N"), as Python sees threads it did not start.
type Thread struct {
	seq   uint64 // the Thread's ID as a Primitive
	ident atomic.Uint64
	state atomic.Uint32

	mu       sync.Mutex // guards name, daemon, err, panicked
	name     string
	daemon   bool
	err      error
	panicked bool

	dummy  bool
	isMain bool
	born   int64 // for a dummy: pruneEpoch when it was made

	target   func(context.Context) error
	ctx      context.Context
	started  chan struct{}
	done     chan struct{}
	pcs      [8]uintptr
	npcs     int
	joins    atomic.Uint64
	joinMeta meta // statistics of joins on this thread

	waiting atomic.Pointer[waitRecord]

	localsMu sync.Mutex
	locals   map[uint64]any
}

type threadCtxKey struct{}

// ThreadFrom returns the Thread a context belongs to, or nil.
func ThreadFrom(ctx context.Context) *Thread {
	t, _ := ctx.Value(threadCtxKey{}).(*Thread)
	return t
}

var (
	threadCounter atomic.Uint64
	dummyCounter  atomic.Uint64
	threadSeq     atomic.Uint64
)

// NewThread returns a Thread that will run target in a new goroutine once
// started. A nil target runs nothing. The name defaults to "Thread-N (func)",
// the daemon flag to the creating thread's.
func NewThread(target func(ctx context.Context) error, opts ...Option) *Thread {
	t := &Thread{}
	t.init(target, opts, 3)
	return t
}

func (t *Thread) init(target func(context.Context) error, opts []Option, skip int) {
	o := buildOptions(opts)
	t.seq = threadSeq.Add(1)
	t.target = target
	t.started = make(chan struct{})
	t.done = make(chan struct{})
	t.npcs = runtime.Callers(skip, t.pcs[:])
	t.joinMeta.kind = KindThread
	creator := CurrentThread()
	if o.name != "" {
		t.name = o.name
	} else {
		t.name = fmt.Sprintf("Thread-%d", threadCounter.Add(1))
		if target != nil {
			if fn := funcName(target); fn != "" {
				t.name += " (" + fn + ")"
			}
		}
	}
	if o.daemon != nil {
		t.daemon = *o.daemon
	} else {
		t.daemon = creator.Daemon()
	}
	parent := o.ctx
	if parent == nil {
		parent = creator.Context()
	}
	t.ctx = context.WithValue(context.WithoutCancel(parent), threadCtxKey{}, t)
}

func funcName(fn any) string {
	f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
	if f == nil {
		return ""
	}
	n := f.Name()
	if i := strings.LastIndexByte(n, '/'); i >= 0 {
		n = n[i+1:]
	}
	if i := strings.IndexByte(n, '.'); i >= 0 {
		n = n[i+1:]
	}
	return strings.TrimSuffix(n, "-fm")
}

// Start runs the thread's target in a new goroutine, and returns once that
// goroutine is running (so Ident is set). ErrAlreadyStarted the second time.
func (t *Thread) Start() error {
	if t.dummy || t.isMain || !t.state.CompareAndSwap(threadInitial, threadStarting) {
		return misuse(t, "start", ErrAlreadyStarted)
	}
	if !t.Daemon() {
		nonDaemonAdd(1)
	}
	go t.bootstrap()
	<-t.started
	return nil
}

func (t *Thread) bootstrap() {
	// The target lives on this goroutine's stack from now on, not in the
	// Thread: the registry reaches the Thread, and must not keep alive what
	// the target's closure holds (a channel it blocks on, for one), or Go's
	// goroutine-leak profile could not see a leak inside it.
	target := t.target
	t.target = nil
	g := curGoid()
	t.ident.Store(g)
	registerThread(g, t)
	t.state.Store(threadAlive)
	close(t.started)
	if hasObservers() {
		ev := &ThreadEvent{Thread: t, Kind: ThreadStarted}
		notify(func(o Observer) { o.ObserveThread(ev) })
	}
	var err error
	var panicked bool
	pprof.Do(t.ctx, pprof.Labels("thread", t.Name()), func(ctx context.Context) {
		err, panicked = t.run(ctx, target)
	})
	t.finish(g, err, panicked)
}

// run calls the trace and profile functions and the target, turning a panic
// into an error with its stack.
func (t *Thread) run(ctx context.Context, target func(context.Context) error) (err error, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			err, panicked = newPanicError(r), true
		}
	}()
	if fn := traceFn.Load(); fn != nil {
		(*fn)(t)
	}
	if fn := profileFn.Load(); fn != nil {
		(*fn)(t)
	}
	if target != nil {
		err = target(ctx)
	}
	return err, false
}

func debugStack() []byte {
	buf := make([]byte, 8192)
	for {
		n := runtime.Stack(buf, false)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

func newPanicError(r any) *PanicError {
	e, _ := r.(error)
	return &PanicError{Value: r, Stack: debugStack(), err: e}
}

// PanicError is the error a Thread keeps (Err) when its target panicked.
type PanicError struct {
	Value any    // what the target panicked with
	Stack []byte // the goroutine's stack at the panic
	err   error
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error { return e.err }

func (t *Thread) finish(g uint64, err error, panicked bool) {
	t.mu.Lock()
	t.err, t.panicked = err, panicked
	t.mu.Unlock()
	if err != nil && !errorsIsExit(err) {
		var stack []byte
		if pe, ok := err.(*PanicError); ok {
			stack = pe.Stack
		}
		callExceptHook(ExceptHookArgs{Err: err, Panicked: panicked, Stack: stack, Thread: t})
	}
	t.localsMu.Lock()
	t.locals = nil
	t.localsMu.Unlock()
	if held := heldBy(g); len(held) > 0 {
		names := make([]string, len(held))
		for i, p := range held {
			names[i] = p.String()
		}
		Publish(&Report{Kind: ReportHeldAtExit, Threads: []*Thread{t}, Primitives: held,
			Summary: fmt.Sprintf("threading: %s ended holding %s", t.Name(), strings.Join(names, ", "))})
	}
	unregisterThread(g, t)
	t.state.Store(threadStopped)
	// Observers hear of the end before joiners return, so whatever they
	// record (a counter, a span) is there once Join is.
	if hasObservers() {
		ev := &ThreadEvent{Thread: t, Kind: ThreadEnded, Err: err, Panicked: panicked}
		notify(func(o Observer) { o.ObserveThread(ev) })
	}
	close(t.done)
	if !t.Daemon() {
		nonDaemonAdd(-1)
	}
}

// Join waits until the thread ends. ErrJoinSelf when a thread joins itself,
// ErrNotStarted before Start, ErrDummyThread for a dummy thread.
func (t *Thread) Join() error { return t.join(forever) }

// JoinTimeout waits at most d (d < 0: no limit) and reports whether the thread
// has ended; a thread still running after d is not an error.
func (t *Thread) JoinTimeout(d time.Duration) (done bool, err error) {
	if err := t.join(within(d)); err != nil {
		return false, err
	}
	return !t.IsAlive() && t.state.Load() == threadStopped, nil
}

// JoinContext waits until the thread ends or ctx is done (then ctx.Err()).
func (t *Thread) JoinContext(ctx context.Context) error { return t.join(withCtx(ctx)) }

func (t *Thread) join(d deadline) error {
	if t.dummy {
		return misuse(t, "join", ErrDummyThread)
	}
	if t.state.Load() == threadInitial {
		return misuse(t, "join", ErrNotStarted)
	}
	g := curGoid()
	if t.ident.Load() == g && t.state.Load() != threadStopped {
		return misuse(t, "join", ErrJoinSelf)
	}
	select {
	case <-t.done:
		t.joins.Add(1)
		return nil
	default:
	}
	if d.tryOnly() {
		return nil
	}
	r := beginWait(t, &t.joinMeta, WaitJoin, g, t.ident.Load(), d)
	out := waitChan(t.done, d, &r)
	r.end(out)
	switch out {
	case OutcomeAcquired:
		t.joins.Add(1)
	case OutcomeCancelled:
		return d.ctx.Err()
	}
	return nil
}

// Done returns a channel closed when the thread ends (Go's idiom for Join).
func (t *Thread) Done() <-chan struct{} { return t.done }

// Name returns the thread's name.
func (t *Thread) Name() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.name
}

// SetName renames the thread (Python's name setter).
func (t *Thread) SetName(name string) {
	t.mu.Lock()
	t.name = sanitizeName(name)
	t.mu.Unlock()
}

// Ident is the goroutine id: 0 until started, kept after the thread ends.
func (t *Thread) Ident() uint64 { return t.ident.Load() }

// IsAlive reports whether the thread has started and not yet ended.
func (t *Thread) IsAlive() bool {
	if t.dummy {
		return true
	}
	s := t.state.Load()
	return s == threadAlive || s == threadStarting
}

// Daemon reports the daemon flag.
func (t *Thread) Daemon() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.daemon
}

// SetDaemon sets the daemon flag; ErrThreadActive once started.
func (t *Thread) SetDaemon(daemon bool) error {
	t.mu.Lock()
	if t.dummy || t.isMain || t.state.Load() != threadInitial {
		t.mu.Unlock()
		return misuse(t, "set_daemon", ErrThreadActive)
	}
	t.daemon = daemon
	t.mu.Unlock()
	return nil
}

// Err is what the target returned, or a *PanicError if it panicked; nil while
// it runs.
func (t *Thread) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Context is the context the target receives: it carries the Thread.
func (t *Thread) Context() context.Context { return t.ctx }

// IsDummy reports whether this is a dummy thread (an alien goroutine).
func (t *Thread) IsDummy() bool { return t.dummy }

// Waiting returns what the thread waits on now, if anything.
func (t *Thread) Waiting() (WaitInfo, bool) {
	if r := t.waiting.Load(); r != nil {
		return r.snapshot()
	}
	return WaitInfo{}, false
}

// ID implements Primitive.
func (t *Thread) ID() uint64 { return t.seq }

// Kind implements Primitive: KindThread.
func (t *Thread) Kind() Kind { return KindThread }

// Class is where the thread was created.
func (t *Thread) Class() string {
	if t.npcs == 0 {
		return "unknown"
	}
	return callerSite(t.pcs[:t.npcs])
}

// Stats implements Primitive: the joins on this thread.
func (t *Thread) Stats() Stats {
	s := Stats{Acquisitions: t.joins.Load()}
	t.joinMeta.slowStats(&s)
	return s
}

// Holders implements Primitive: a running thread holds itself (so a join
// waits on it).
func (t *Thread) Holders() []uint64 {
	if t.IsAlive() {
		if g := t.ident.Load(); g != 0 {
			return []uint64{g}
		}
	}
	return nil
}

// String is Python's repr: <Thread(name, started daemon 123)>.
func (t *Thread) String() string {
	cls := "Thread"
	switch {
	case t.dummy:
		cls = "_DummyThread"
	case t.isMain:
		cls = "_MainThread"
	}
	status := "initial"
	switch t.state.Load() {
	case threadStarting, threadAlive:
		status = "started"
	case threadStopped:
		status = "stopped"
	}
	if t.Daemon() {
		status += " daemon"
	}
	if g := t.ident.Load(); g != 0 {
		status += fmt.Sprintf(" %d", g)
	}
	return fmt.Sprintf("<%s(%s, %s)>", cls, t.Name(), status)
}

// Non-daemon threads still running, for Main.
var nonDaemon struct {
	mu   sync.Mutex
	cond *sync.Cond
	n    int
}

func init() { nonDaemon.cond = sync.NewCond(&nonDaemon.mu) }

func nonDaemonAdd(d int) {
	nonDaemon.mu.Lock()
	nonDaemon.n += d
	if nonDaemon.n == 0 {
		nonDaemon.cond.Broadcast()
	}
	nonDaemon.mu.Unlock()
}

// The thread registry: every live Thread and dummy, by goroutine id, in
// shards so that CurrentThread from many goroutines does not contend.
const regShards = 64

type regShard struct {
	mu sync.RWMutex
	m  map[uint64]threadRef
	_  [40]byte
}

// threadRef is a registry entry. A started Thread is held weakly: its own
// goroutine keeps it alive until it unregisters at the end, and a strong
// reference from the registry would keep everything the Thread reaches (its
// done channel, its context) reachable, hiding a joiner that waits forever
// from Go's goroutine-leak profile. Dummy and main-thread records exist only
// in the registry, so it holds them strongly.
type threadRef struct {
	strong *Thread
	weak   weak.Pointer[Thread]
}

func refOf(t *Thread) threadRef {
	if t.dummy || t.isMain {
		return threadRef{strong: t}
	}
	return threadRef{weak: weak.Make(t)}
}

func (r threadRef) get() *Thread {
	if r.strong != nil {
		return r.strong
	}
	return r.weak.Value()
}

var (
	threadReg   [regShards]regShard
	dummyCount  atomic.Int64
	lastPrune   atomic.Int64 // nanotime of the last prune
	pruneEpoch  atomic.Int64 // bumped as each prune begins
	pruneMu     sync.Mutex
	mainMu      sync.Mutex
	mainThread  atomic.Pointer[Thread]
	mainGoid    atomic.Uint64
	initialGoid = uint64(1) // the runtime's main goroutine
)

func init() { mainGoid.Store(initialGoid) }

func shardOf(g uint64) *regShard { return &threadReg[g%regShards] }

func registerThread(g uint64, t *Thread) {
	s := shardOf(g)
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[uint64]threadRef)
	}
	s.m[g] = refOf(t)
	s.mu.Unlock()
}

func unregisterThread(g uint64, t *Thread) {
	s := shardOf(g)
	s.mu.Lock()
	if s.m[g].get() == t {
		delete(s.m, g)
	}
	s.mu.Unlock()
}

func lookupThread(g uint64) *Thread {
	s := shardOf(g)
	s.mu.RLock()
	t := s.m[g].get()
	s.mu.RUnlock()
	return t
}

// LookupThread returns the live thread (Thread or dummy) of a goroutine
// ident, or nil.
func LookupThread(ident uint64) *Thread { return lookupThread(ident) }

// threadForGoid returns g's thread record, making a dummy for an alien
// goroutine (or the main thread for the main goroutine).
func threadForGoid(g uint64) *Thread {
	if t := lookupThread(g); t != nil {
		return t
	}
	if g == mainGoid.Load() {
		return MainThread()
	}
	t := &Thread{
		seq: threadSeq.Add(1), dummy: true, daemon: true,
		name: fmt.Sprintf("Dummy-%d", dummyCounter.Add(1)),
		done: make(chan struct{}), started: make(chan struct{}),
	}
	t.joinMeta.kind = KindThread
	t.ident.Store(g)
	t.state.Store(threadAlive)
	t.ctx = context.WithValue(context.Background(), threadCtxKey{}, t)
	s := shardOf(g)
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[uint64]threadRef)
	}
	if old := s.m[g].get(); old != nil {
		s.mu.Unlock()
		return old
	}
	t.born = pruneEpoch.Load()
	s.m[g] = threadRef{strong: t}
	s.mu.Unlock()
	if n := dummyCount.Add(1); n > 256 && n > 2*int64(runtime.NumGoroutine()) {
		pruneDummies()
	}
	return t
}

// CurrentThread is Python's current_thread(): the calling goroutine's Thread,
// the main thread, or a dummy thread for an alien goroutine.
func CurrentThread() *Thread { return threadForGoid(curGoid()) }

// MainThread is Python's main_thread(): the thread of the goroutine that
// called Main, or else of the program's main goroutine.
func MainThread() *Thread {
	if t := mainThread.Load(); t != nil {
		return t
	}
	mainMu.Lock()
	defer mainMu.Unlock()
	if t := mainThread.Load(); t != nil {
		return t
	}
	t := newMainRecord(mainGoid.Load())
	mainThread.Store(t)
	return t
}

func newMainRecord(g uint64) *Thread {
	t := &Thread{seq: threadSeq.Add(1), isMain: true, name: "MainThread",
		done: make(chan struct{}), started: make(chan struct{})}
	t.joinMeta.kind = KindThread
	t.ident.Store(g)
	t.state.Store(threadAlive)
	t.ctx = context.WithValue(context.Background(), threadCtxKey{}, t)
	close(t.started)
	registerThread(g, t)
	return t
}

// Main runs fn as the main thread, then marks the main thread ended and waits
// for every non-daemon Thread, as a Python program does at exit. Call it from
// func main: func main() { threading.Main(run) }.
func Main(fn func()) {
	g := curGoid()
	mainMu.Lock()
	if old := mainThread.Load(); old != nil && old.state.Load() != threadStopped {
		unregisterThread(old.ident.Load(), old)
	}
	prevGoid := mainGoid.Swap(g)
	t := newMainRecord(g)
	mainThread.Store(t)
	mainMu.Unlock()
	defer func() {
		t.state.Store(threadStopped)
		unregisterThread(g, t)
		close(t.done)
		// The goroutine lives on (in tests, the next test runs on it): it
		// gets a fresh main-thread record if it asks again.
		mainMu.Lock()
		if mainThread.CompareAndSwap(t, nil) {
			mainGoid.Store(prevGoid)
		}
		mainMu.Unlock()
		nonDaemon.mu.Lock()
		for nonDaemon.n > 0 {
			nonDaemon.cond.Wait()
		}
		nonDaemon.mu.Unlock()
	}()
	if fn != nil {
		fn()
	}
}

// GetIdent is Python's get_ident(): the calling goroutine's id, never 0.
func GetIdent() uint64 { return curGoid() }

// Enumerate is Python's enumerate(): every live Thread, dummy and the main
// thread; never one that has ended or not started.
func Enumerate() []*Thread {
	maybePrune()
	var out []*Thread
	for i := range threadReg {
		s := &threadReg[i]
		s.mu.RLock()
		for _, r := range s.m {
			if t := r.get(); t != nil {
				out = append(out, t)
			}
		}
		s.mu.RUnlock()
	}
	sortThreads(out)
	return out
}

// ActiveCount is Python's active_count(): len(Enumerate()).
func ActiveCount() int { return len(Enumerate()) }

// maybePrune drops the records of dummy threads whose goroutines have ended,
// at most once a second, and only while a goroutine dump is cheap: in a
// process with more than maxPruneGoroutines goroutines, dummies are pruned
// only when they outnumber twice the live goroutines (threadForGoid), which
// keeps the dump's cost amortised over the dummies it removes.
func maybePrune() {
	if dummyCount.Load() == 0 || runtime.NumGoroutine() > maxPruneGoroutines {
		return
	}
	if nanotime()-lastPrune.Load() < int64(time.Second) {
		return
	}
	pruneDummies()
}

// pruneDummies drops dummy records of goroutines that no longer exist. Go has
// no hook for a goroutine's end, so it reads the live goroutine ids from a
// full stack dump: costly, so it runs only when dummies outnumber twice the
// live goroutines (which bounds them) or on Enumerate, at most once a second.
func pruneDummies() {
	if !pruneMu.TryLock() {
		return
	}
	defer pruneMu.Unlock()
	// Only dummies made before the dump began may be dropped: a goroutine
	// that got its record after the dump is alive but not in it. Goroutine
	// ids are never reused, so one absent from the dump has ended.
	epoch := pruneEpoch.Add(1)
	live := liveGoroutines()
	for i := range threadReg {
		s := &threadReg[i]
		s.mu.Lock()
		for g, r := range s.m {
			t := r.strong
			if t != nil && t.dummy && t.born < epoch && !live[g] {
				delete(s.m, g)
				dummyCount.Add(-1)
				t.localsMu.Lock()
				t.locals = nil
				t.localsMu.Unlock()
				t.state.Store(threadStopped)
			}
		}
		s.mu.Unlock()
	}
	lastPrune.Store(nanotime())
}

const maxPruneGoroutines = 10000

var stackBuf []byte // guarded by pruneMu

func liveGoroutines() map[uint64]bool {
	if stackBuf == nil {
		stackBuf = make([]byte, 1<<16)
	}
	var n int
	for {
		n = runtime.Stack(stackBuf, true)
		if n < len(stackBuf) {
			break
		}
		stackBuf = make([]byte, 2*len(stackBuf))
	}
	live := make(map[uint64]bool, runtime.NumGoroutine()+16)
	b := stackBuf[:n]
	prefix := []byte("goroutine ")
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if bytes.HasPrefix(line, prefix) {
			if g := parseGoroutineHeader(line); g != 0 {
				live[g] = true
			}
		}
	}
	if len(stackBuf) > 1<<24 { // do not keep a huge buffer between prunes
		stackBuf = nil
	}
	return live
}

var traceFn, profileFn atomic.Pointer[func(*Thread)]

// SetTrace is Python's settrace(): fn runs in each new Thread's goroutine
// before its target; nil clears it.
func SetTrace(fn func(*Thread)) { storeFn(&traceFn, fn) }

// SetProfile is Python's setprofile(): like SetTrace, for profilers. Every
// Thread also runs under the pprof label thread=<name>.
func SetProfile(fn func(*Thread)) { storeFn(&profileFn, fn) }

func storeFn(p *atomic.Pointer[func(*Thread)], fn func(*Thread)) {
	if fn == nil {
		p.Store(nil)
		return
	}
	p.Store(&fn)
}

// TimeoutMax is Python's TIMEOUT_MAX: the largest timeout accepted. Every
// time.Duration is accepted, so Python's OverflowError cannot happen.
const TimeoutMax = time.Duration(1<<63 - 1)

// StackSize is Python's stack_size(): 0, the platform default (Go grows
// goroutine stacks as needed).
func StackSize() int { return 0 }

// SetStackSize is Python's stack_size(size): 0 keeps the default; sizes below
// 32 KiB are ErrValue, as in Python; any other size is ErrUnsupported.
func SetStackSize(size int) error {
	switch {
	case size == 0:
		return nil
	case size < 0 || size < 32768:
		return valuef("size not valid: %d bytes (the minimum is 32768)", size)
	default:
		return ErrUnsupported
	}
}
