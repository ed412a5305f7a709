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
			pingPong(b, c.Lockable, func() { _ = c.Wait() }, func() { _ = c.Notify(1) })
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
