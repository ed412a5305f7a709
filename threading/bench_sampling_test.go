package threading

import (
	"strconv"
	"testing"
	"time"
)

// The cost of sampling wait stacks (the waiter and releaser profiles), at
// the default rate against off and against every wait, on the benchmarks
// that block the most: go test -run '^$' -bench StackSampling -count 6 ./threading/
func BenchmarkStackSampling(b *testing.B) {
	defer SetWaitStackSampling(DefaultWaitStackSampling)
	for _, rate := range []int{0, DefaultWaitStackSampling, 1} {
		name := "off"
		if rate > 0 {
			name = "1in" + strconv.Itoa(rate)
		}
		b.Run("PingPong/"+name, func(b *testing.B) {
			SetWaitStackSampling(rate)
			c := NewCondition(NewLock())
			turn := 0
			done := make(chan struct{})
			go func() {
				c.Acquire()
				for i := 0; i < b.N; i++ {
					for turn != 1 {
						_ = c.Wait()
					}
					turn = 0
					_ = c.Notify(1)
				}
				_ = c.Release()
				close(done)
			}()
			c.Acquire()
			for i := 0; i < b.N; i++ {
				turn = 1
				_ = c.Notify(1)
				for turn != 0 {
					_ = c.Wait()
				}
			}
			_ = c.Release()
			<-done
		})
		b.Run("Contended/"+name, func(b *testing.B) {
			SetWaitStackSampling(rate)
			var mu Lock
			var n int
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					mu.Lock()
					n++
					if n%64 == 0 { // a hold long enough that waiters park
						time.Sleep(0)
					}
					mu.Unlock()
				}
			})
		})
	}
}
