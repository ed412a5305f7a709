package threading

import (
	"errors"
	"sort"
	"sync/atomic"
)

// ExceptHookArgs is what the except hook receives (Python's
// threading.ExceptHookArgs): the error, whether it was a panic, the stack of
// the panic (nil for a returned error), and the thread (nil when the hook is
// called for no thread).
type ExceptHookArgs struct {
	Err      error
	Panicked bool
	Stack    []byte
	Thread   *Thread
}

var exceptHook atomic.Pointer[func(ExceptHookArgs)]

// SetExceptHook is Python's threading.excepthook assignment: fn receives every
// error a Thread's target returns and every panic it raises (except ErrExit).
// nil restores the default, DefaultExceptHook.
func SetExceptHook(fn func(ExceptHookArgs)) {
	if fn == nil {
		exceptHook.Store(nil)
		return
	}
	exceptHook.Store(&fn)
}

// ExceptHook calls the hook in force with args, as the package does when a
// target fails.
func ExceptHook(args ExceptHookArgs) { callExceptHook(args) }

// DefaultExceptHook is Python's threading.__excepthook__: it hands the
// error and the stack to the package's Logger (SetLogger), which logs
// "Exception in thread NAME" at error level.
func DefaultExceptHook(args ExceptHookArgs) {
	if args.Err == nil || errorsIsExit(args.Err) {
		return
	}
	logCall(func(l Logger) { l.Except(args) })
}

func callExceptHook(args ExceptHookArgs) {
	p := exceptHook.Load()
	if p == nil {
		DefaultExceptHook(args)
		return
	}
	defer func() {
		if r := recover(); r != nil {
			// Python prints "Exception in threading.excepthook:" and hands
			// the hook's own exception to sys.excepthook.
			logPanic("Exception in threading.excepthook", r, args.Err)
		}
	}()
	(*p)(args)
}

func errorsIsExit(err error) bool { return errors.Is(err, ErrExit) }

func sortU64(s []uint64) { sort.Slice(s, func(i, j int) bool { return s[i] < s[j] }) }

func sortThreads(s []*Thread) {
	sort.Slice(s, func(i, j int) bool { return s[i].ident.Load() < s[j].ident.Load() })
}

func sortClasses(s []ClassStats) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Kind != s[j].Kind {
			return s[i].Kind < s[j].Kind
		}
		return s[i].Label < s[j].Label
	})
}
