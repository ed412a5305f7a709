// Package zaplog makes a *zap.Logger the logger of package threading:
//
//	zaplog.Install(logger)
//
// Reports (deadlocks, lock-order inversions, long waits, smells) are logged at
// error level, misuse at warning level, a failing Thread's error at error
// level with its stack, each with structured fields. Package threading itself
// does not import zap (which would pull in net/http and turn off Go's "all
// goroutines are asleep" check); this package is the bridge.
package zaplog

import (
	"strconv"

	"github.com/threadmon/threadmon/threading"
	"go.uber.org/zap"
)

// Logger is a threading.Logger over a *zap.Logger.
type Logger struct {
	threading.NopObserver
	l *zap.Logger
}

// New returns a threading.Logger that writes to l (nil: zap.NewNop()).
func New(l *zap.Logger) *Logger {
	if l == nil {
		l = zap.NewNop()
	}
	return &Logger{l: l}
}

// Install makes l the logger of package threading and returns the previous
// one (threading.SetLogger gives it back).
func Install(l *zap.Logger) (previous threading.Logger) {
	return threading.SetLogger(New(l))
}

// Zap returns the underlying logger.
func (z *Logger) Zap() *zap.Logger { return z.l }

// ObserveReport logs a report at error level: its summary, kind, duration,
// threads, primitives and detail.
func (z *Logger) ObserveReport(r *threading.Report) {
	fields := []zap.Field{zap.String("kind", r.Kind.String())}
	if r.Duration > 0 {
		fields = append(fields, zap.Duration("duration", r.Duration))
	}
	for _, t := range r.Threads {
		fields = append(fields, zap.String("thread", t.Name()))
	}
	for _, p := range r.Primitives {
		fields = append(fields, zap.String("primitive", p.String()))
	}
	if r.Detail != "" {
		fields = append(fields, zap.String("detail", r.Detail))
	}
	z.l.Error(r.Summary, fields...)
}

// ObserveMisuse logs a misuse ("threading: misuse: OP") at warning level.
func (z *Logger) ObserveMisuse(m *threading.MisuseEvent) {
	var fields []zap.Field
	if m.Thread != nil {
		fields = append(fields, zap.String("thread", m.Thread.Name()), zap.Uint64("ident", m.Thread.Ident()))
	}
	fields = append(fields, zap.String("op", m.Op), zap.Error(m.Err))
	if m.Primitive != nil {
		fields = append(fields, zap.String("primitive", m.Primitive.String()), zap.String("kind", threading.Describe(m.Primitive).Kind.String()))
	}
	z.l.Warn("threading: misuse: "+m.Op, fields...)
}

// Except logs "Exception in thread NAME" at error level.
func (z *Logger) Except(args threading.ExceptHookArgs) {
	who := strconv.FormatUint(threading.GetIdent(), 10)
	if args.Thread != nil {
		who = args.Thread.Name()
	}
	fields := []zap.Field{zap.String("thread", who), zap.Error(args.Err), zap.Bool("panicked", args.Panicked)}
	if args.Thread != nil {
		fields = append(fields, zap.Uint64("ident", args.Thread.Ident()))
	}
	fields = append(fields, zap.ByteString("stack", threading.ExceptStack(args)))
	z.l.Error("Exception in thread "+who, fields...)
}

// Panic logs a panic recovered from an observer ("threading: observer
// panicked", field "panic") or an except hook ("Exception in
// threading.excepthook", fields "hook_panic" and "original").
func (z *Logger) Panic(msg string, value any, original error, stack []byte) {
	if original != nil {
		z.l.Error(msg, zap.Any("hook_panic", value), zap.NamedError("original", original), zap.ByteString("stack", stack))
		return
	}
	z.l.Error(msg, zap.Any("panic", value), zap.ByteString("stack", stack))
}
