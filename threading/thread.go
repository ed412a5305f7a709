package threading

import (
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
	recs    [2]*waitRecord       // the records waiting points to while it waits; only its goroutine touches them
	spare   weak.Pointer[waiter] // a waiter to reuse; only its goroutine touches it

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
	if skip > 0 { // WaitGroup.Go's threads are known by their group's class
		t.npcs = runtime.Callers(skip, t.pcs[:])
	}
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

// startAsync is Start without waiting for the goroutine to run: for
// WaitGroup.Go and Group.Go, which must cost about what a go statement
// costs. The Thread is fresh, so it cannot have been started.
func (t *Thread) startAsync() {
	t.state.Store(threadStarting)
	if !t.Daemon() {
		nonDaemonAdd(1)
	}
	go t.bootstrap()
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
		publish(&Report{Kind: ReportHeldAtExit, Threads: []*Thread{t}, Primitives: held,
			Summary: fmt.Sprintf("threading: %s ended holding %s", t.Name(), strings.Join(names, ", "))})
	}
	recordEnded(g, t.Name(), time.Now())
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

func (t *Thread) primID() uint64 { return t.seq }

func (t *Thread) primKind() Kind { return KindThread }

func (t *Thread) primClass() string {
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

func (t *Thread) holders() []uint64 {
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

// guarded by pruneMu

func (t *Thread) primName() string { return t.Name() }
