package threading

import (
	"errors"
	"fmt"
)

// familyError is a sentinel that belongs to a family (ErrRuntime or ErrValue),
// so that errors.Is(err, ErrRuntime) holds for every RuntimeError, as
// "except RuntimeError" catches every subclass in Python.
type familyError struct {
	msg    string
	family error
}

func (e *familyError) Error() string { return e.msg }

// Is reports whether target is this error's family.
func (e *familyError) Is(target error) bool { return target == e.family }

// The families. Every error this package returns belongs to one of them.
var (
	// ErrRuntime is Python's RuntimeError: misuse of a primitive or a thread.
	ErrRuntime = errors.New("threading: runtime error")
	// ErrValue is Python's ValueError: an argument out of range.
	ErrValue = errors.New("threading: value error")
)

func runtimeErr(msg string) error { return &familyError{msg: "threading: " + msg, family: ErrRuntime} }
func valueErr(msg string) error   { return &familyError{msg: "threading: " + msg, family: ErrValue} }

// The RuntimeError family.
var (
	// ErrReleaseUnlocked is returned by Lock.Release on a lock that is not locked.
	ErrReleaseUnlocked = runtimeErr("release unlocked lock")
	// ErrNotOwner is returned when the calling thread does not hold the lock it
	// releases, waits on or notifies through.
	ErrNotOwner = runtimeErr("cannot release un-acquired lock")
	// ErrAlreadyStarted is returned by a second Thread.Start.
	ErrAlreadyStarted = runtimeErr("threads can only be started once")
	// ErrNotStarted is returned when joining a thread that was never started.
	ErrNotStarted = runtimeErr("cannot join thread before it is started")
	// ErrJoinSelf is returned when a thread joins itself.
	ErrJoinSelf = runtimeErr("cannot join current thread")
	// ErrThreadActive is returned by SetDaemon once the thread has started.
	ErrThreadActive = runtimeErr("cannot set daemon status of active thread")
	// ErrUnsupported is returned by SetStackSize for sizes Go cannot honour.
	ErrUnsupported = runtimeErr("changing the thread stack size is not supported: Go grows goroutine stacks itself")
	// ErrBrokenBarrier is Python's BrokenBarrierError.
	ErrBrokenBarrier = runtimeErr("barrier is broken")
	// ErrDeadlock is returned to a waiter that the deadlock detector chose as
	// the victim to break a deadlock.
	ErrDeadlock = runtimeErr("deadlock detected: this wait was chosen to break it")
	// ErrDummyThread is returned when joining a dummy thread (an alien goroutine).
	ErrDummyThread = runtimeErr("cannot join a dummy thread")
)

// The ValueError family.
var (
	// ErrTooManyReleases is returned by BoundedSemaphore.Release when the
	// release would pass the initial value.
	ErrTooManyReleases = valueErr("Semaphore released too many times")
)

// ErrExit is Python's SystemExit for a thread: a target that returns an error
// matching ErrExit (or panics with one) ends quietly, without the except hook.
var ErrExit = errors.New("threading: thread exit")

// valuef returns an error of the ValueError family with a formatted message.
func valuef(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrValue}, args...)...)
}
