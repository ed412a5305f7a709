package zaplog_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/threadmon/threadmon/internal/plumb"
	"github.com/threadmon/threadmon/threading"
	"github.com/threadmon/threadmon/threading/zaplog"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func install(t *testing.T) *observer.ObservedLogs {
	core, logs := observer.New(zapcore.DebugLevel)
	prev := zaplog.Install(zap.New(core))
	t.Cleanup(func() { threading.SetLogger(prev) })
	return logs
}

// The same messages and fields as threading logged through zap before the
// logger became pluggable.
func TestMisuseReportExcept(t *testing.T) {
	logs := install(t)
	l := threading.NewLock(threading.WithName("logged"))
	if err := l.Release(); err == nil {
		t.Fatal("release of an unlocked lock succeeded")
	}
	e := logs.FilterMessage("threading: misuse: release").All()
	if len(e) != 1 || e[0].Level != zapcore.WarnLevel {
		t.Fatalf("%v", logs.All())
	}
	f := e[0].ContextMap()
	if f["kind"] != "Lock" || f["op"] != "release" || f["primitive"] != `<unlocked Lock "logged">` || f["thread"] == "" ||
		!strings.Contains(fmt.Sprint(f["error"]), "release unlocked lock") {
		t.Fatalf("fields %v", f)
	}

	plumb.Publish(&threading.Report{Kind: threading.ReportLongWait, Summary: "long wait",
		Primitives: []threading.Primitive{l}, Threads: []*threading.Thread{threading.CurrentThread()}, Duration: 3e9})
	r := logs.FilterMessage("long wait").All()
	if len(r) != 1 || r[0].Level != zapcore.ErrorLevel || r[0].ContextMap()["kind"] != "long_wait" || r[0].ContextMap()["duration"] == nil {
		t.Fatalf("%v", logs.All())
	}

	th := threading.NewThread(func(context.Context) error { panic(errors.New("run failed")) }, threading.WithName("failing"))
	_ = th.Start()
	_ = th.Join()
	x := logs.FilterMessage("Exception in thread failing").All()
	if len(x) != 1 || x[0].Level != zapcore.ErrorLevel {
		t.Fatalf("%v", logs.All())
	}
	xf := x[0].ContextMap()
	if xf["thread"] != "failing" || xf["panicked"] != true || !strings.Contains(fmt.Sprint(xf["stack"]), "zaplog_test.go") {
		t.Fatalf("fields %v", xf)
	}
}

func TestHookPanic(t *testing.T) {
	logs := install(t)
	threading.SetExceptHook(func(threading.ExceptHookArgs) { panic("hook failed") })
	defer threading.SetExceptHook(nil)
	threading.ExceptHook(threading.ExceptHookArgs{Err: errors.New("original")})
	e := logs.FilterMessage("Exception in threading.excepthook").All()
	if len(e) != 1 || e[0].ContextMap()["hook_panic"] != "hook failed" {
		t.Fatalf("%v", logs.All())
	}
}

func TestRemove(t *testing.T) {
	logs := install(t)
	threading.SetLogger(nil)
	_ = threading.NewLock().Release()
	if logs.Len() != 0 {
		t.Fatalf("logged with the logger removed: %v", logs.All())
	}
}

func ExampleInstall() {
	logger := zap.NewNop() // your service's logger
	zaplog.Install(logger)
	// Output:
}
