package threading

import (
	"context"
	"sync"
	"time"
)

// Timer is Python's threading.Timer: a Thread that runs fn after interval,
// unless cancelled first. It has every method of Thread.
type Timer struct {
	Thread
	cancel chan struct{}
	once   sync.Once
}

// NewTimer returns a Timer that, once started, waits interval and then runs
// fn in its thread. Options as for NewThread.
func NewTimer(interval time.Duration, fn func(ctx context.Context) error, opts ...Option) *Timer {
	t := &Timer{cancel: make(chan struct{})}
	t.Thread.init(func(ctx context.Context) error {
		if interval > 0 {
			tm := time.NewTimer(interval)
			defer tm.Stop()
			select {
			case <-t.cancel:
				return nil
			case <-tm.C:
			}
		}
		select {
		case <-t.cancel:
			return nil
		default:
		}
		if fn == nil {
			return nil
		}
		return fn(ctx)
	}, opts, 3)
	if o := buildOptions(opts); o.name == "" {
		// Python names a Timer "Thread-N" without the target.
		t.Thread.name = trimTargetSuffix(t.Thread.name)
	}
	return t
}

func trimTargetSuffix(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] == ' ' {
			return name[:i]
		}
	}
	return name
}

// Cancel stops the timer if it has not fired yet: fn then never runs. After it
// fired, Cancel has no effect.
func (t *Timer) Cancel() { t.once.Do(func() { close(t.cancel) }) }
