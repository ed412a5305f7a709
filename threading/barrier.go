package threading

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Barrier is Python's threading.Barrier: parties threads wait until all have
// arrived, then all go on. A failing action, a timeout, a cancelled wait,
// Abort, or Reset while threads wait breaks the round: ErrBrokenBarrier.
type Barrier struct {
	mu      sync.Mutex
	parties int
	action  func() error
	timeout time.Duration // default for Wait; < 0: none
	gen     *barrierGen   // the current round
	acq     atomic.Uint64
	x       *ext
}

type barrierGen struct {
	done     chan struct{} // closed when the round is released or broken
	count    int           // threads arrived in this round
	draining bool          // all arrived; the action runs
	broken   bool
}

func newGen() *barrierGen { return &barrierGen{done: make(chan struct{})} }

// NewBarrier returns a Barrier for parties threads; ErrValue for parties < 1.
// Options: WithAction, WithTimeout, WithName.
func NewBarrier(parties int, opts ...Option) (*Barrier, error) {
	if parties < 1 {
		return nil, valuef("barrier parties must be >= 1, got %d", parties)
	}
	o := buildOptions(opts)
	b := &Barrier{parties: parties, action: o.action, timeout: -1, gen: newGen()}
	if o.timeout != nil {
		b.timeout = *o.timeout
	}
	newPrimExt(b, KindBarrier, o)
	return b, nil
}

func (b *Barrier) registerSelf(e *ext) {
	register(e, b)
}

// Wait waits for the round to fill, at most the barrier's default timeout.
// It returns this thread's arrival index, 0..parties-1, or ErrBrokenBarrier.
func (b *Barrier) Wait() (int, error) { return b.wait(within(b.timeout)) }

// WaitTimeout is Wait with an explicit timeout (d < 0: no limit). A timeout
// breaks the barrier for every waiter.
func (b *Barrier) WaitTimeout(d time.Duration) (int, error) { return b.wait(within(d)) }

// WaitContext is Wait until ctx is done; a cancelled wait breaks the barrier,
// and the error matches both ErrBrokenBarrier and ctx.Err().
func (b *Barrier) WaitContext(ctx context.Context) (int, error) { return b.wait(withCtx(ctx)) }

func (b *Barrier) wait(d deadline) (int, error) {
	b.mu.Lock()
	for b.gen.draining && !b.gen.broken { // a round is leaving: wait for the next
		g := b.gen
		b.mu.Unlock()
		<-g.done
		b.mu.Lock()
	}
	g := b.gen
	if g.broken {
		b.mu.Unlock()
		return 0, ErrBrokenBarrier
	}
	idx := g.count
	g.count++
	if g.count == b.parties {
		g.draining = true
		b.mu.Unlock()
		err := runAction(b.action)
		b.mu.Lock()
		if err != nil {
			b.breakLocked(g)
			b.mu.Unlock()
			return idx, fmt.Errorf("%w: the barrier action failed: %w", ErrBrokenBarrier, err)
		}
		if !g.broken {
			close(g.done)
			b.gen = newGen()
		}
		broken := g.broken
		b.mu.Unlock()
		if broken {
			return idx, ErrBrokenBarrier
		}
		b.acq.Add(1)
		return idx, nil
	}
	b.mu.Unlock()
	b.registerSelf(b.x)
	rec := beginWait(b, b.x.meta, WaitBarrier, curGoid(), 0, d)
	out := waitChan(g.done, d, &rec)
	b.mu.Lock()
	if out != OutcomeAcquired && !g.broken && !g.draining {
		b.breakLocked(g) // a waiter giving up leaves the round unable to fill
	}
	if out != OutcomeAcquired && g.draining && !g.broken {
		// The round filled as the deadline passed: it is released, not broken.
		b.mu.Unlock()
		<-g.done
		b.mu.Lock()
		out = OutcomeAcquired
	}
	broken := g.broken
	b.mu.Unlock()
	switch {
	case broken:
		if out == OutcomeAcquired {
			out = OutcomeBroken
		}
		rec.end(out)
		if out == OutcomeCancelled {
			return idx, fmt.Errorf("%w: %w", ErrBrokenBarrier, d.ctx.Err())
		}
		return idx, ErrBrokenBarrier
	default:
		rec.end(OutcomeAcquired)
		b.acq.Add(1)
		return idx, nil
	}
}

func runAction(action func() error) (err error) {
	if action == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = newPanicError(r)
		}
	}()
	return action()
}

func (b *Barrier) breakLocked(g *barrierGen) {
	if g.broken {
		return
	}
	g.broken = true
	close(g.done)
}

// Reset returns the barrier to its empty state; threads waiting in the
// current round get ErrBrokenBarrier.
func (b *Barrier) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen.count > 0 && !b.gen.broken {
		b.breakLocked(b.gen)
	}
	if b.gen.draining && !b.gen.broken {
		return // the round is being released; it resets itself
	}
	b.gen = newGen()
}

// Abort breaks the barrier: current and future waiters get ErrBrokenBarrier
// until Reset.
func (b *Barrier) Abort() {
	b.mu.Lock()
	b.breakLocked(b.gen)
	b.mu.Unlock()
}

// Parties is the number of threads needed to pass.
func (b *Barrier) Parties() int { return b.parties }

// NWaiting is the number of threads waiting in the current round.
func (b *Barrier) NWaiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen.broken || b.gen.draining {
		return 0
	}
	return b.gen.count
}

// Broken reports whether the barrier is broken.
func (b *Barrier) Broken() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gen.broken
}

func (b *Barrier) primID() uint64 { return b.x.id.Load() }

func (b *Barrier) primKind() Kind { return KindBarrier }

func (b *Barrier) primName() string { return b.x.name }

func (b *Barrier) primClass() string { return b.x.classOf() }

// Stats: Acquisitions counts waits that passed.
func (b *Barrier) Stats() Stats {
	s := Stats{Acquisitions: b.acq.Load()}
	b.x.slowStats(&s)
	return s
}

func (b *Barrier) holders() []uint64 { return nil }

// String is Python's repr: <Barrier: waiters=2/3>, or <Barrier: broken>.
func (b *Barrier) String() string {
	name := quotedName(b.x.meta)
	if b.Broken() {
		return fmt.Sprintf("<Barrier%s: broken>", name)
	}
	return fmt.Sprintf("<Barrier%s: waiters=%d/%d>", name, b.NWaiting(), b.parties)
}

func (b *Barrier) setExt(e *ext) { b.x = e }
