package threading

import (
	"sync"
	"testing"
	"time"
)

// fairness is Go's TestMutexFairness for any lock: one goroutine holds the
// lock nearly all the time, another wants it ten times. Without starvation
// mode the second can wait unboundedly while the first barges back in.
func fairness(t *testing.T, lock, unlock func()) time.Duration {
	t.Helper()
	stop := make(chan struct{})
	var hog sync.WaitGroup
	hog.Add(1)
	go func() {
		defer hog.Done()
		for {
			lock()
			time.Sleep(100 * time.Microsecond)
			unlock()
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	defer func() { close(stop); hog.Wait() }()
	done := make(chan time.Duration, 1)
	go func() {
		var worst time.Duration
		for i := 0; i < 10; i++ {
			time.Sleep(100 * time.Microsecond)
			start := time.Now()
			lock()
			if w := time.Since(start); w > worst {
				worst = w
			}
			unlock()
		}
		done <- worst
	}()
	select {
	case worst := <-done:
		return worst
	case <-time.After(10 * time.Second):
		t.Fatal("can't acquire the lock in 10 seconds")
		return 0
	}
}

func TestMutexFairness(t *testing.T) {
	var l Lock
	var rl RLock
	var rw RWLock
	var mu sync.Mutex
	for _, c := range []struct {
		name         string
		lock, unlock func()
	}{
		{"Lock", l.Lock, l.Unlock},
		{"RLock", rl.Lock, rl.Unlock},
		{"RWLock", rw.Lock, rw.Unlock},
		{"sync.Mutex", mu.Lock, mu.Unlock},
	} {
		t.Run(c.name, func(t *testing.T) {
			worst := fairness(t, c.lock, c.unlock)
			t.Logf("%s: the longest of ten waits took %v", c.name, worst)
			// sync.Mutex keeps this to a few milliseconds; 1 s is the
			// tolerance for a loaded machine, not the expectation.
			if worst > time.Second {
				t.Errorf("%s: a waiter waited %v behind a barging holder", c.name, worst)
			}
		})
	}
}
