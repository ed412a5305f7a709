package threading

import (
	"context"
	"time"
)

// Option configures a primitive or a thread. Options that do not apply to
// what is being built are ignored.
type Option func(*options)

type options struct {
	name    string
	daemon  *bool
	action  func() error
	timeout *time.Duration
	ctx     context.Context
}

func buildOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// WithName names a primitive or a thread, for metrics, graphs and traces.
func WithName(name string) Option {
	name = sanitizeName(name)
	return func(o *options) { o.name = name }
}

// WithDaemon sets a Thread's daemon flag (Python's daemon=).
func WithDaemon(daemon bool) Option { return func(o *options) { o.daemon = &daemon } }

// WithAction sets a Barrier's action, run by one thread per round before any
// thread leaves (Python's action=).
func WithAction(fn func() error) Option {
	return func(o *options) { o.action = fn }
}

// WithTimeout sets a Barrier's default timeout (Python's timeout=).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = &d } }

// WithContext sets the context a Thread's target receives (its values, not its
// cancellation: a Thread runs until its target returns). By default a Thread
// inherits the context of the Thread that created it.
func WithContext(ctx context.Context) Option { return func(o *options) { o.ctx = ctx } }
