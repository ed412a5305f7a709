package tracing_test

import (
	"context"
	"fmt"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/threadmon/threadmon/threading"
	"github.com/threadmon/threadmon/tracing"
)

// A wait over the threshold becomes a span with the wait's real start and
// end. Its parent is the span in the waiter's context: in a service, the
// request's span from an instrumented HTTP server (otelhttp or similar);
// without one, as here, the wait's span is a root.
func ExampleRegister() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	defer tracing.Register(tracing.WithTracerProvider(tp), tracing.WithThreshold(time.Millisecond)).Close()

	l := threading.NewLock(threading.WithName("ledger"))
	l.Acquire()
	waiter := threading.NewThread(func(ctx context.Context) error {
		if err := l.AcquireContext(ctx); err != nil {
			return err
		}
		return l.Release()
	})
	_ = waiter.Start()
	for l.Stats().Waiters == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(5 * time.Millisecond)
	_ = l.Release()
	<-waiter.Done() // not Join: a Join that outlasted the threshold would be a span too
	for _, s := range exp.GetSpans() {
		fmt.Println(s.Name)
	}
	// Output: threading.Lock.wait
}
