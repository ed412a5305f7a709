package tracing

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"

	"github.com/threadmon/threadmon/internal/plumb"
	"github.com/threadmon/threadmon/threading"
)

func TestMain(m *testing.M) {
	threading.SetLogger(nil)
	goleak.VerifyTestMain(m)
}

func setup(t *testing.T, opts ...Option) (*tracetest.InMemoryExporter, *sdktrace.TracerProvider) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tr := Register(append([]Option{WithTracerProvider(tp)}, opts...)...)
	t.Cleanup(func() { tr.Close(); _ = tp.Shutdown(context.Background()) })
	return exp, tp
}

func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

func spansNamed(exp *tracetest.InMemoryExporter, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// A wait past the threshold is a span with the wait's real start and end,
// parented on the caller's context, with the attributes of DESIGN.md.
func TestSlowWaitSpan(t *testing.T) {
	exp, tp := setup(t, WithThreshold(5*time.Millisecond))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	l := threading.NewLock(threading.WithName("orders"))
	release := make(chan struct{})
	holder := threading.NewThread(func(context.Context) error {
		l.Acquire()
		<-release
		return l.Release()
	}, threading.WithName("holder"))
	_ = holder.Start()
	for !l.Locked() {
		time.Sleep(time.Millisecond)
	}
	var start time.Time
	waiter := threading.NewThread(func(context.Context) error {
		start = time.Now()
		return l.AcquireContext(ctx)
	}, threading.WithName("waiter"))
	_ = waiter.Start()
	for l.Stats().Waiters == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	_ = holder.Join()
	_ = waiter.Join()
	end := time.Now()
	_ = l.Release()
	parent.End()

	spans := spansNamed(exp, "threading.Lock.wait")
	if len(spans) != 1 {
		t.Fatalf("%d wait spans", len(spans))
	}
	s := spans[0]
	if s.Parent.SpanID() != parent.SpanContext().SpanID() || s.SpanContext.TraceID() != parent.SpanContext().TraceID() {
		t.Fatal("not parented on the caller's span")
	}
	if s.StartTime.Before(start) || s.EndTime.After(end) || s.EndTime.Sub(s.StartTime) < 15*time.Millisecond {
		t.Fatalf("span %v..%v, wait %v..%v", s.StartTime, s.EndTime, start, end)
	}
	a := attrs(s)
	want := map[attribute.Key]string{AttrKind: "Lock", AttrName: "orders", AttrThread: "waiter", AttrHolder: "holder", AttrOutcome: "acquired", AttrWaitKind: "acquire"}
	for k, v := range want {
		if a[k].AsString() != v {
			t.Errorf("%s = %q, want %q", k, a[k].AsString(), v)
		}
	}
	if s.InstrumentationScope.Name != ScopeName || s.Status.Code == codes.Error {
		t.Fatalf("scope %q status %v", s.InstrumentationScope.Name, s.Status)
	}
}

// Short waits make no span; timeouts and broken barriers make error spans.
func TestThresholdAndErrors(t *testing.T) {
	exp, _ := setup(t, WithThreshold(50*time.Millisecond))
	l := threading.NewLock()
	l.Acquire()
	done := make(chan bool)
	go func() { done <- l.AcquireTimeout(time.Millisecond) }()
	<-done
	if n := len(spansNamed(exp, "threading.Lock.wait")); n != 0 {
		t.Fatalf("a 1 ms wait made %d spans with a 50 ms threshold", n)
	}
	go func() { done <- l.AcquireTimeout(60 * time.Millisecond) }()
	<-done
	_ = l.Release()
	spans := spansNamed(exp, "threading.Lock.wait")
	if len(spans) != 1 || spans[0].Status.Code != codes.Error || attrs(spans[0])[AttrOutcome].AsString() != "timeout" {
		t.Fatalf("%+v", spans)
	}
	b, _ := threading.NewBarrier(2, threading.WithName("pipeline"))
	go func() {
		_, err := b.WaitTimeout(time.Second)
		done <- errors.Is(err, threading.ErrBrokenBarrier)
	}()
	for b.NWaiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(60 * time.Millisecond)
	b.Abort()
	if !<-done {
		t.Fatal("barrier wait not broken")
	}
	spans = spansNamed(exp, "threading.Barrier.wait")
	if len(spans) != 1 || spans[0].Status.Code != codes.Error || attrs(spans[0])[AttrOutcome].AsString() != "broken" {
		t.Fatalf("%+v", spans)
	}
}

// Thread spans cover a thread's life, carry its waits when no caller span
// exists, and record a failure; a deadlock report is an error span event.
func TestThreadSpansAndReports(t *testing.T) {
	exp, _ := setup(t, WithThreadSpans(), WithThreshold(0))
	threading.SetExceptHook(func(threading.ExceptHookArgs) {})
	defer threading.SetExceptHook(nil)
	ev := threading.NewEvent()
	th := threading.NewThread(func(context.Context) error {
		ev.Wait()
		return errors.New("worker failed")
	}, threading.WithName("worker"))
	_ = th.Start()
	for ev.Stats().Waiters == 0 {
		time.Sleep(time.Millisecond)
	}
	plumb.Publish(&threading.Report{Kind: threading.ReportDeadlock, Summary: "Found one deadlock", Threads: []*threading.Thread{th}, Detail: "dump"})
	ev.Set()
	_ = th.Join()
	ts := spansNamed(exp, "threading.Thread")
	if len(ts) != 1 || ts[0].Status.Code != codes.Error || attrs(ts[0])[AttrThread].AsString() != "worker" {
		t.Fatalf("%+v", ts)
	}
	var sawEvent bool
	for _, e := range ts[0].Events {
		sawEvent = sawEvent || e.Name == "threading.deadlock"
	}
	if !sawEvent {
		t.Fatal("the thread span has no deadlock event")
	}
	ws := spansNamed(exp, "threading.Event.wait")
	if len(ws) != 1 || ws[0].Parent.SpanID() != ts[0].SpanContext.SpanID() {
		t.Fatal("the wait is not a child of its thread's span")
	}
	ds := spansNamed(exp, "threading.deadlock")
	if len(ds) != 1 || ds[0].Status.Code != codes.Error || len(ds[0].Events) != 1 || ds[0].Events[0].Name != "threading.deadlock" {
		t.Fatalf("%+v", ds)
	}
}

// TraceID gives a sampled span's trace id, for metrics exemplars.
func TestTraceID(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, span := tp.Tracer("t").Start(context.Background(), "x")
	defer span.End()
	if id, ok := TraceID(ctx); !ok || id != span.SpanContext().TraceID().String() {
		t.Fatal(id, ok)
	}
	if _, ok := TraceID(context.Background()); ok {
		t.Fatal("a trace id without a span")
	}
}
