package threading

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// withLogs installs an observed logger for the test (ExceptHookTests' setUp
// restores the default hook).
func withLogs(t *testing.T) *observer.ObservedLogs {
	core, logs := observer.New(zapcore.DebugLevel)
	SetLogger(zap.New(core))
	SetExceptHook(nil)
	t.Cleanup(func() { SetLogger(zap.NewNop()); SetExceptHook(nil) })
	return logs
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
	if entries[0].Level != zapcore.ErrorLevel || f["thread"] != "excepthook thread" ||
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
	SetExceptHook(func(ExceptHookArgs) { Logger().Info("Running a thread failed") })
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
	if len(e) != 1 || e[0].Level != zapcore.WarnLevel {
		t.Fatalf("%v", logs.All())
	}
	f := e[0].ContextMap()
	if f["kind"] != "Lock" || f["op"] != "release" || f["primitive"] != `<unlocked Lock "logged">` || f["thread"] == "" ||
		!strings.Contains(fmt.Sprint(f["error"]), "release unlocked lock") {
		t.Fatalf("fields %v", f)
	}
	Publish(&Report{Kind: ReportLongWait, Summary: "long wait", Primitives: []Primitive{l}, Threads: []*Thread{CurrentThread()}, Duration: 3e9})
	r := logs.FilterMessage("long wait").All()
	if len(r) != 1 || r[0].Level != zapcore.ErrorLevel || r[0].ContextMap()["kind"] != "long_wait" || r[0].ContextMap()["duration"] == nil {
		t.Fatalf("%v", logs.All())
	}
}
