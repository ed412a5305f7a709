package sample

import (
	gosync "sync"
	"sync/atomic"
)

var (
	configOnce gosync.Once
	config     map[string]int

	// Answer is computed once.
	Answer = gosync.OnceValue(func() int { return 6 * 7 })

	calls atomic.Int32
	hello = gosync.OnceFunc(func() { calls.Add(1) })
)

// Config loads the configuration once.
func Config() map[string]int {
	configOnce.Do(func() { config = map[string]int{"workers": 4} })
	return config
}

// Hello says hello once, however often it is called.
func Hello() int32 {
	hello()
	hello()
	return calls.Load()
}

// Sum adds the numbers in parallel with Add, Done and Wait.
func Sum(nums []int) int64 {
	var wg gosync.WaitGroup
	var total atomic.Int64
	for _, n := range nums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			total.Add(int64(n))
		}()
	}
	wg.Wait()
	return total.Load()
}

// Squares squares the numbers in parallel with WaitGroup.Go.
func Squares(nums []int) []int {
	out := make([]int, len(nums))
	wg := new(gosync.WaitGroup)
	for i, n := range nums {
		wg.Go(func() { out[i] = n * n })
	}
	wg.Wait()
	return out
}
