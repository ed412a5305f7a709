package threading

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// withLogs installs the default logger over a recording slog handler for
// the test (ExceptHookTests' setUp restores the default hook).
func withLogs(t *testing.T) *logRecorder {
	rec := &logRecorder{}
	prev := SetLogger(NewSlogLogger(slog.New(rec)))
	SetExceptHook(nil)
	t.Cleanup(func() { SetLogger(prev); SetExceptHook(nil) })
	return rec
}

// logEntry is one recorded message.
type logEntry struct {
	Message string
	Level   slog.Level
	fields  map[string]any
}

func (e logEntry) ContextMap() map[string]any { return e.fields }

// logRecorder is a slog.Handler that keeps what it is given.
type logRecorder struct {
	mu      sync.Mutex
	entries []logEntry
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	e := logEntry{Message: rec.Message, Level: rec.Level, fields: map[string]any{}}
	rec.Attrs(func(a slog.Attr) bool { e.fields[a.Key] = a.Value.Any(); return true })
	r.mu.Lock()
	r.entries = append(r.entries, e)
	r.mu.Unlock()
	return nil
}

func (r *logRecorder) add(msg string) {
	r.mu.Lock()
	r.entries = append(r.entries, logEntry{Message: msg, fields: map[string]any{}})
	r.mu.Unlock()
}

func (r *logRecorder) All() []logEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]logEntry(nil), r.entries...)
}

func (r *logRecorder) Len() int { return len(r.All()) }

func (r *logRecorder) TakeAll() []logEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.entries
	r.entries = nil
	return out
}

func (r *logRecorder) FilterMessage(msg string) *logRecorder {
	out := &logRecorder{}
	for _, e := range r.All() {
		if e.Message == msg {
			out.entries = append(out.entries, e)
		}
	}
	return out
}

func runFailing(target func(context.Context) error, name string) *Thread {
	th := NewThread(target, WithName(name))
	_ = th.Start()
	_ = th.Join()
	return th
}

// ExceptHookTests.test_excepthook [A]: "Exception in thread NAME", the error
// and the stack.
func TestExceptHookDefault(t *testing.T) {
	logs := withLogs(t)
	runFailing(func(context.Context) error { panic(errors.New("run failed")) }, "excepthook thread")
	entries := logs.FilterMessage("Exception in thread excepthook thread").All()
	if len(entries) != 1 {
		t.Fatalf("entries %v", logs.All())
	}
	f := entries[0].ContextMap()
	if entries[0].Level != slog.LevelError || f["thread"] != "excepthook thread" ||
		!strings.Contains(fmt.Sprint(f["error"]), "run failed") ||
		!strings.Contains(fmt.Sprint(f["stack"]), "excepthook_test.go") || f["panicked"] != true {
		t.Fatalf("fields %v", f)
	}
}

// ExceptHookTests.test_excepthook_thread_None [A]
func TestExceptHookNoThread(t *testing.T) {
	logs := withLogs(t)
	ExceptHook(ExceptHookArgs{Err: errors.New("run failed")})
	want := fmt.Sprintf("Exception in thread %d", GetIdent())
	if n := logs.FilterMessage(want).Len(); n != 1 {
		t.Fatalf("want %q in %v", want, logs.All())
	}
}

// ExceptHookTests.test_system_exit: ErrExit ends a thread silently.
func TestExceptHookSystemExit(t *testing.T) {
	logs := withLogs(t)
	runFailing(func(context.Context) error { return fmt.Errorf("done: %w", ErrExit) }, "exit1")
	runFailing(func(context.Context) error { panic(ErrExit) }, "exit2")
	if logs.Len() != 0 {
		t.Fatalf("logged %v", logs.All())
	}
}

// ExceptHookTests.test_custom_excepthook: the hook gets the error, the stack
// and the Thread itself.
func TestExceptHookCustom(t *testing.T) {
	withLogs(t)
	var got ExceptHookArgs
	SetExceptHook(func(a ExceptHookArgs) { got = a })
	th := runFailing(func(context.Context) error { panic(errors.New("run failed")) }, "custom")
	if got.Thread != th || got.Err == nil || got.Err.Error() != "panic: run failed" || !got.Panicked || len(got.Stack) == 0 {
		t.Fatalf("%+v", got)
	}
	var pe *PanicError
	if !errors.As(got.Err, &pe) || string(pe.Stack) != string(got.Stack) {
		t.Fatal("the hook's stack is not the error's")
	}
	th = runFailing(func(context.Context) error { return errors.New("returned") }, "custom2")
	if got.Thread != th || got.Panicked || got.Err.Error() != "returned" {
		t.Fatalf("%+v", got)
	}
}

// ExceptHookTests.test_custom_excepthook_fail [A]: a hook that panics is
// reported as "Exception in threading.excepthook" with its own panic.
func TestExceptHookFails(t *testing.T) {
	logs := withLogs(t)
	SetExceptHook(func(ExceptHookArgs) { panic("threading_hook failed") })
	runFailing(func(context.Context) error { return errors.New("run failed") }, "hookfail")
	e := logs.FilterMessage("Exception in threading.excepthook").All()
	if len(e) != 1 || e[0].ContextMap()["hook_panic"] != "threading_hook failed" {
		t.Fatalf("%v", logs.All())
	}
}

// ExceptHookTests.test_original_excepthook: DefaultExceptHook is the
// original; restoring it gives the same output; a custom hook differs.
func TestExceptHookOriginal(t *testing.T) {
	logs := withLogs(t)
	fail := func(context.Context) error { return errors.New("run failed") }
	runFailing(fail, "orig")
	first := logs.TakeAll()
	SetExceptHook(func(ExceptHookArgs) { logs.add("Running a thread failed") })
	runFailing(fail, "orig")
	custom := logs.TakeAll()
	SetExceptHook(DefaultExceptHook)
	runFailing(fail, "orig")
	restored := logs.TakeAll()
	if len(first) != 1 || len(restored) != 1 || first[0].Message != restored[0].Message {
		t.Fatalf("default %v restored %v", first, restored)
	}
	if len(custom) != 1 || custom[0].Message != "Running a thread failed" {
		t.Fatal(custom)
	}
}

// Misuse is logged at warning level with structured fields; reports at
// error level.
func TestMisuseAndReportLogs(t *testing.T) {
	logs := withLogs(t)
	l := NewLock(WithName("logged"))
	_ = l.Release()
	e := logs.FilterMessage("threading: misuse: release").All()
	if len(e) != 1 || e[0].Level != slog.LevelWarn {
		t.Fatalf("%v", logs.All())
	}
	f := e[0].ContextMap()
	if f["kind"] != "Lock" || f["op"] != "release" || f["primitive"] != `<unlocked Lock "logged">` || f["thread"] == "" ||
		!strings.Contains(fmt.Sprint(f["error"]), "release unlocked lock") {
		t.Fatalf("fields %v", f)
	}
	publish(&Report{Kind: ReportLongWait, Summary: "long wait", Primitives: []Primitive{l}, Threads: []*Thread{CurrentThread()}, Duration: 3e9})
	r := logs.FilterMessage("long wait").All()
	if len(r) != 1 || r[0].Level != slog.LevelError || r[0].ContextMap()["kind"] != "long_wait" || r[0].ContextMap()["duration"] == nil {
		t.Fatalf("%v", logs.All())
	}
}
