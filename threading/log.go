package threading

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// Logger is where package threading says what it has to say on its own:
// reports (deadlocks, lock-order inversions, long waits, smells) at error
// level, misuse at warning level, a Thread's failure from DefaultExceptHook,
// and a panic recovered from an observer or an except hook.
//
// A Logger receives only reports and misuse (it costs nothing on a wait).
// The default is NewSlogLogger(nil); package threading/zaplog gives one over
// a *zap.Logger.
type Logger interface {
	Observer
	// Except logs an error or panic that ended a Thread (the default except
	// hook's output).
	Except(args ExceptHookArgs)
	// Panic logs a panic recovered from an observer or an except hook: msg
	// says which, value is what was recovered, original is the error the
	// except hook was handling (nil for an observer).
	Panic(msg string, value any, original error, stack []byte)
}

var logger atomic.Pointer[loggerBox]

type loggerBox struct{ l Logger }

func init() { logger.Store(&loggerBox{NewSlogLogger(nil)}) }

// SetLogger makes l the package's logger and returns the previous one; nil
// turns the package's own logging off.
func SetLogger(l Logger) (previous Logger) {
	var old *loggerBox
	if l == nil {
		old = logger.Swap(nil)
	} else {
		old = logger.Swap(&loggerBox{l})
	}
	if old == nil {
		return nil
	}
	return old.l
}

// CurrentLogger returns the logger in force, or nil when logging is off.
func CurrentLogger() Logger {
	if b := logger.Load(); b != nil {
		return b.l
	}
	return nil
}

// logPanic hands a recovered panic to the logger; a panicking logger is
// ignored (there is nowhere left to say it).
func logPanic(msg string, value any, original error) {
	logCall(func(l Logger) { l.Panic(msg, value, original, debugStack()) })
}

// logCall runs fn on the logger, if any, recovering a panic in it.
func logCall(fn func(Logger)) {
	b := logger.Load()
	if b == nil {
		return
	}
	defer func() { _ = recover() }()
	fn(b.l)
}

// slogLogger is a Logger over a *slog.Logger, with the same messages and
// keys as package threading/zaplog.
type slogLogger struct {
	NopObserver
	l *slog.Logger
}

// NewSlogLogger returns a Logger that writes to l, with the messages and keys
// of package threading/zaplog; nil means slog.Default() at the time of each
// message. It is the package's default logger.
func NewSlogLogger(l *slog.Logger) Logger { return &slogLogger{l: l} }

func (s *slogLogger) log() *slog.Logger {
	if s.l != nil {
		return s.l
	}
	return slog.Default()
}

// ObserveReport logs a report at error level.
func (s *slogLogger) ObserveReport(r *Report) {
	attrs := []slog.Attr{slog.String("kind", r.Kind.String())}
	if r.Duration > 0 {
		attrs = append(attrs, slog.Duration("duration", r.Duration))
	}
	for _, t := range r.Threads {
		attrs = append(attrs, slog.String("thread", t.Name()))
	}
	for _, p := range r.Primitives {
		attrs = append(attrs, slog.String("primitive", p.String()))
	}
	if r.Detail != "" {
		attrs = append(attrs, slog.String("detail", r.Detail))
	}
	s.log().LogAttrs(context.Background(), slog.LevelError, r.Summary, attrs...)
}

// ObserveMisuse logs a misuse at warning level.
func (s *slogLogger) ObserveMisuse(m *MisuseEvent) {
	attrs := []slog.Attr{slog.String("op", m.Op), slog.Any("error", m.Err)}
	if m.Thread != nil {
		attrs = append(attrs, slog.String("thread", m.Thread.Name()), slog.Uint64("ident", m.Thread.Ident()))
	}
	if m.Primitive != nil {
		attrs = append(attrs, slog.String("primitive", m.Primitive.String()), slog.String("kind", m.Primitive.primKind().String()))
	}
	s.log().LogAttrs(context.Background(), slog.LevelWarn, "threading: misuse: "+m.Op, attrs...)
}

// Except logs "Exception in thread NAME" at error level, with the stack.
func (s *slogLogger) Except(args ExceptHookArgs) {
	who := exceptWho(args)
	attrs := []slog.Attr{slog.String("thread", who), slog.Any("error", args.Err), slog.Bool("panicked", args.Panicked)}
	if args.Thread != nil {
		attrs = append(attrs, slog.Uint64("ident", args.Thread.Ident()))
	}
	attrs = append(attrs, slog.String("stack", string(ExceptStack(args))))
	s.log().LogAttrs(context.Background(), slog.LevelError, "Exception in thread "+who, attrs...)
}

// Panic logs a recovered panic at error level.
func (s *slogLogger) Panic(msg string, value any, original error, stack []byte) {
	key := "panic"
	if original != nil {
		key = "hook_panic"
	}
	attrs := []slog.Attr{slog.Any(key, value), slog.String("stack", string(stack))}
	if original != nil {
		attrs = append(attrs, slog.Any("original", original))
	}
	s.log().LogAttrs(context.Background(), slog.LevelError, msg, attrs...)
}

// exceptWho names the thread of an except hook call: its name, else the
// calling goroutine's ident.
func exceptWho(args ExceptHookArgs) string {
	if args.Thread != nil {
		return args.Thread.Name()
	}
	return fmt.Sprint(GetIdent())
}

// ExceptStack is the stack an except hook call reports: the panic's, else
// the caller's. Loggers (this package's and threading/zaplog's) use it.
func ExceptStack(args ExceptHookArgs) []byte {
	if args.Stack != nil {
		return args.Stack
	}
	return debugStack()
}
