// Package tracing turns package threading's slow waits into OpenTelemetry
// spans.
//
//	t := tracing.Register()            // the global TracerProvider, 1 ms threshold
//	defer t.Close()
//
// Each wait that lasted at least the threshold becomes a span named like
// "threading.Lock.wait", with the wait's real start and end, parented on the
// caller's context (AcquireContext, WaitContext, JoinContext) or else on the
// waiting Thread's. Timeouts, broken barriers and deadlocks get an error
// status. Optionally each Thread's lifetime is a span too, and every deadlock
// report becomes an error span event. Recording never blocks nor fails the
// instrumented code: spans are handed to the SDK's processors.
package tracing

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/threadmon/threadmon/threading"
)

// ScopeName is the instrumentation scope of the spans.
const ScopeName = "github.com/threadmon/threadmon/tracing"

// DefaultThreshold is the shortest wait that becomes a span.
const DefaultThreshold = time.Millisecond

// The span attributes.
const (
	AttrKind       = attribute.Key("threading.primitive.kind")
	AttrName       = attribute.Key("threading.primitive.name")
	AttrThread     = attribute.Key("threading.thread.name")
	AttrThreadID   = attribute.Key("threading.thread.ident")
	AttrHolder     = attribute.Key("threading.holder.name")
	AttrOutcome    = attribute.Key("threading.wait.outcome")
	AttrWaitKind   = attribute.Key("threading.wait.kind")
	AttrReportKind = attribute.Key("threading.report.kind")
)

// Option configures Register.
type Option func(*Tracer)

// WithTracerProvider sets the provider; the default is otel's global one.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(t *Tracer) { t.provider = tp }
}

// WithThreshold sets the shortest wait that becomes a span (default 1 ms).
func WithThreshold(d time.Duration) Option { return func(t *Tracer) { t.threshold = d } }

// WithThreadSpans records a span for each Thread's lifetime, from Start to
// its end, with an error status when its target failed.
func WithThreadSpans() Option { return func(t *Tracer) { t.threadSpans = true } }

// Tracer is the observer Register attached; Close detaches it.
type Tracer struct {
	threading.NopObserver
	provider    trace.TracerProvider
	tracer      trace.Tracer
	threshold   time.Duration
	threadSpans bool

	mu    sync.Mutex
	spans map[uint64]trace.Span // live thread spans, by ident: never the Thread itself, which must stay collectable (see threading's registry)

	remove    func()
	closeOnce sync.Once
}

// Register attaches a Tracer to package threading.
func Register(opts ...Option) *Tracer {
	t := &Tracer{threshold: DefaultThreshold, spans: make(map[uint64]trace.Span)}
	for _, o := range opts {
		o(t)
	}
	if t.provider == nil {
		t.provider = otel.GetTracerProvider()
	}
	t.tracer = t.provider.Tracer(ScopeName)
	t.remove = threading.AddObserver(t)
	return t
}

// Close detaches the tracer and ends the thread spans still open.
func (t *Tracer) Close() {
	t.closeOnce.Do(func() {
		t.remove()
		t.mu.Lock()
		for th, s := range t.spans {
			s.End()
			delete(t.spans, th)
		}
		t.mu.Unlock()
	})
}

// TraceID returns the trace id of the span in ctx, if it is sampled: the
// exemplar function for metrics.WithTraceIDs.
func TraceID(ctx context.Context) (string, bool) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsSampled() {
		return "", false
	}
	return sc.TraceID().String(), true
}

func primitiveLabel(p threading.Primitive) string {
	return threading.Describe(p).Label()
}

// ObserveWait implements threading.Observer.
func (t *Tracer) ObserveWait(e *threading.WaitEvent) {
	if e.Duration < t.threshold {
		return
	}
	ctx := e.Ctx
	if t.threadSpans && !trace.SpanContextFromContext(ctx).IsValid() {
		t.mu.Lock()
		if s, ok := t.spans[e.Waiter.Ident()]; ok {
			ctx = trace.ContextWithSpan(ctx, s)
		}
		t.mu.Unlock()
	}
	kind := threading.Describe(e.Primitive).Kind.String()
	attrs := []attribute.KeyValue{
		AttrKind.String(kind),
		AttrName.String(primitiveLabel(e.Primitive)),
		AttrThread.String(e.Waiter.Name()),
		AttrThreadID.Int64(int64(e.Waiter.Ident())),
		AttrOutcome.String(e.Outcome.String()),
		AttrWaitKind.String(e.Kind.String()),
	}
	if e.Holder != nil {
		attrs = append(attrs, AttrHolder.String(e.Holder.Name()))
	}
	_, span := t.tracer.Start(ctx, "threading."+kind+".wait",
		trace.WithTimestamp(e.Start), trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	switch e.Outcome {
	case threading.OutcomeTimeout:
		span.SetStatus(codes.Error, "wait timed out")
	case threading.OutcomeBroken:
		span.SetStatus(codes.Error, "barrier broken")
	case threading.OutcomeDeadlock:
		span.SetStatus(codes.Error, "deadlock: this wait was chosen to break it")
	}
	span.End(trace.WithTimestamp(e.Start.Add(e.Duration)))
}

// ObserveThread implements threading.Observer.
func (t *Tracer) ObserveThread(e *threading.ThreadEvent) {
	if !t.threadSpans {
		return
	}
	switch e.Kind {
	case threading.ThreadStarted:
		_, span := t.tracer.Start(e.Thread.Context(), "threading.Thread",
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(AttrThread.String(e.Thread.Name()), AttrThreadID.Int64(int64(e.Thread.Ident()))))
		t.mu.Lock()
		t.spans[e.Thread.Ident()] = span
		t.mu.Unlock()
	case threading.ThreadEnded:
		t.mu.Lock()
		span, ok := t.spans[e.Thread.Ident()]
		delete(t.spans, e.Thread.Ident())
		t.mu.Unlock()
		if !ok {
			return
		}
		if e.Err != nil {
			span.RecordError(e.Err)
			span.SetStatus(codes.Error, e.Err.Error())
		}
		span.End()
	}
}

// ObserveReport implements threading.Observer: a deadlock (or other) report
// becomes an error span with an event, and an event on the involved
// threads' spans.
func (t *Tracer) ObserveReport(r *threading.Report) {
	name := "threading." + r.Kind.String()
	attrs := []attribute.KeyValue{AttrReportKind.String(r.Kind.String()), attribute.String("threading.report.summary", r.Summary)}
	var names []string
	for _, th := range r.Threads {
		names = append(names, th.Name())
	}
	var prims []string
	for _, p := range r.Primitives {
		prims = append(prims, p.String())
	}
	attrs = append(attrs, attribute.StringSlice("threading.report.threads", names), attribute.StringSlice("threading.report.primitives", prims))
	_, span := t.tracer.Start(context.Background(), name, trace.WithTimestamp(r.Time), trace.WithAttributes(attrs...))
	span.AddEvent(name, trace.WithTimestamp(r.Time), trace.WithAttributes(attribute.String("threading.report.detail", r.Detail)))
	span.SetStatus(codes.Error, r.Summary)
	span.End()
	if t.threadSpans {
		t.mu.Lock()
		for _, th := range r.Threads {
			if s, ok := t.spans[th.Ident()]; ok {
				s.AddEvent(name, trace.WithAttributes(attrs...))
			}
		}
		t.mu.Unlock()
	}
}
