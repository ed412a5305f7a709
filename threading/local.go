package threading

import "sync/atomic"

var localSeq atomic.Uint64

// Local is Python's threading.local for one value of type T: each thread sees
// its own. A Thread's values are dropped when it ends; a dummy thread's when
// its goroutine is found gone. The zero value is ready; NewLocal adds an
// initialiser.
type Local[T any] struct {
	id   atomic.Uint64
	init func() T
}

// NewLocal returns a Local whose init runs once per thread, on the thread's
// first Get (Python's subclass __init__).
func NewLocal[T any](init func() T) *Local[T] { return &Local[T]{init: init} }

func (l *Local[T]) key() uint64 {
	if k := l.id.Load(); k != 0 {
		return k
	}
	l.id.CompareAndSwap(0, localSeq.Add(1))
	return l.id.Load()
}

// Get returns the calling thread's value, running init first if it has none
// (without init: T's zero value, and nothing is stored).
func (l *Local[T]) Get() T {
	if v, ok := l.Lookup(); ok {
		return v
	}
	var zero T
	if l.init == nil {
		return zero
	}
	v := l.init()
	l.Set(v)
	return v
}

// Lookup returns the calling thread's value and whether it has one (Python's
// AttributeError is false).
func (l *Local[T]) Lookup() (T, bool) {
	t := CurrentThread()
	k := l.key()
	t.localsMu.Lock()
	v, ok := t.locals[k]
	t.localsMu.Unlock()
	if !ok {
		var zero T
		return zero, false
	}
	return v.(T), true
}

// Set sets the calling thread's value.
func (l *Local[T]) Set(v T) {
	t := CurrentThread()
	k := l.key()
	t.localsMu.Lock()
	if t.state.Load() != threadStopped {
		if t.locals == nil {
			t.locals = make(map[uint64]any)
		}
		t.locals[k] = v
	}
	t.localsMu.Unlock()
}

// Delete removes the calling thread's value (Python's del).
func (l *Local[T]) Delete() {
	t := CurrentThread()
	k := l.key()
	t.localsMu.Lock()
	delete(t.locals, k)
	t.localsMu.Unlock()
}
