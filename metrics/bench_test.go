package metrics_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/threadmon/threadmon/metrics"
	"github.com/threadmon/threadmon/threading"
	"github.com/threadmon/threadmon/tracing"
)

// attach wires metrics (with exemplars) and tracing with the given
// threshold, as a service would.
func attach(b *testing.B, threshold time.Duration) func() {
	reg := prometheus.NewRegistry()
	m, err := metrics.Register(reg, metrics.WithTraceIDs(tracing.TraceID))
	if err != nil {
		b.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	tr := tracing.Register(tracing.WithTracerProvider(tp), tracing.WithThreshold(threshold))
	return func() { tr.Close(); m.Close(); _ = tp.Shutdown(context.Background()) }
}

// The uncontended fast path with metrics and tracing attached: the budget is
// 2x sync.Mutex with no allocation, since no hook runs when nobody waits.
func BenchmarkFastPath(b *testing.B) {
	b.Run("sync.Mutex", func(b *testing.B) {
		var mu sync.Mutex
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			mu.Lock()
			mu.Unlock()
		}
	})
	b.Run("Lock/bare", func(b *testing.B) {
		var mu threading.Lock
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			mu.Lock()
			mu.Unlock()
		}
	})
	b.Run("Lock/metrics+tracing", func(b *testing.B) {
		defer attach(b, time.Millisecond)()
		var mu threading.Lock
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			mu.Lock()
			mu.Unlock()
		}
	})
}

// BenchmarkContendedWait times one wait that blocks (a hand-off between two
// goroutines through a Condition, two waits per op), bare, with metrics and
// tracing below the span threshold, and with a span for every wait.
func BenchmarkContendedWait(b *testing.B) {
	run := func(b *testing.B) {
		c := threading.NewCondition(threading.NewLock(), threading.WithName("bench.pingpong"))
		turn := 0
		done := make(chan struct{})
		go func() {
			c.Acquire()
			for i := 0; i < b.N; i++ {
				for turn != 1 {
					_ = c.Wait()
				}
				turn = 0
				_ = c.Notify(1)
			}
			_ = c.Release()
			close(done)
		}()
		c.Acquire()
		for i := 0; i < b.N; i++ {
			turn = 1
			_ = c.Notify(1)
			for turn != 0 {
				_ = c.Wait()
			}
		}
		_ = c.Release()
		<-done
	}
	b.Run("bare", run)
	b.Run("metrics+tracing", func(b *testing.B) { defer attach(b, time.Millisecond)(); run(b) })
	b.Run("metrics+tracing/span-every-wait", func(b *testing.B) { defer attach(b, 0)(); run(b) })
}
