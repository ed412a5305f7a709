package threading

import (
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"
)

// The sync drop-ins against what they replace, in the same run:
// go test -run '^$' -bench 'Dropin' -count 6 ./threading/

// pingPong hands a turn back and forth between two goroutines through a
// condition variable with sync.Cond's API.
func pingPong(b *testing.B, l sync.Locker, wait, signal func()) {
	turn := 0
	done := make(chan struct{})
	go func() {
		l.Lock()
		for i := 0; i < b.N; i++ {
			for turn != 1 {
				wait()
			}
			turn = 0
			signal()
		}
		l.Unlock()
		close(done)
	}()
	l.Lock()
	for i := 0; i < b.N; i++ {
		turn = 1
		signal()
		for turn != 0 {
			wait()
		}
	}
	l.Unlock()
	<-done
}

func BenchmarkDropinCond(b *testing.B) {
	b.Run("sync.Cond", func(b *testing.B) {
		var mu sync.Mutex
		c := sync.NewCond(&mu)
		pingPong(b, &mu, c.Wait, c.Signal)
	})
	b.Run("threading.Cond", func(b *testing.B) {
		var mu Mutex
		c := NewCond(&mu)
		pingPong(b, &mu, c.Wait, c.Signal)
	})
}

func BenchmarkDropinMutex(b *testing.B) {
	b.Run("sync.Mutex", func(b *testing.B) {
		var mu sync.Mutex
		for i := 0; i < b.N; i++ {
			mu.Lock()
			mu.Unlock()
		}
	})
	b.Run("threading.Mutex", func(b *testing.B) {
		var mu Mutex
		for i := 0; i < b.N; i++ {
			mu.Lock()
			mu.Unlock()
		}
	})
}

func BenchmarkDropinWaitGroup(b *testing.B) {
	b.Run("sync.WaitGroup", func(b *testing.B) {
		var wg sync.WaitGroup
		for i := 0; i < b.N; i++ {
			wg.Add(1)
			wg.Done()
			wg.Wait()
		}
	})
	b.Run("threading.WaitGroup", func(b *testing.B) {
		var wg WaitGroup
		for i := 0; i < b.N; i++ {
			wg.Add(1)
			wg.Done()
			wg.Wait()
		}
	})
}

func BenchmarkDropinOnce(b *testing.B) {
	b.Run("sync.Once", func(b *testing.B) {
		var o sync.Once
		for i := 0; i < b.N; i++ {
			o.Do(func() {})
		}
	})
	b.Run("threading.Once", func(b *testing.B) {
		var o Once
		for i := 0; i < b.N; i++ {
			o.Do(func() {})
		}
	})
}

// A group of 8 short tasks, started and waited for.
func BenchmarkDropinGroup(b *testing.B) {
	task := func() error { return nil }
	b.Run("errgroup", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var g errgroup.Group
			for k := 0; k < 8; k++ {
				g.Go(task)
			}
			_ = g.Wait()
		}
	})
	b.Run("threading.Group", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var g Group
			for k := 0; k < 8; k++ {
				g.Go(task)
			}
			_ = g.Wait()
		}
	})
}
