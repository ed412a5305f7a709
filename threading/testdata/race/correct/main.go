// A correct program on threadmon's primitives: every shared access is
// ordered by a Lock, RLock, RWLock, Condition, Semaphore, Event, Barrier,
// Thread Start/Join or a successful TryLock. The race detector must report
// nothing: what makes threadmon visible to -race must not lose the
// synchronisation its primitives do provide.
package main

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/threadmon/threadmon/threading"
)

const (
	workers = 6
	iters   = 300
)

func check(what string, got, want int) {
	if got != want {
		fmt.Printf("%s: got %d, want %d\n", what, got, want)
		os.Exit(1)
	}
}

func lockCounter() {
	var l threading.Lock
	n, tries := 0, 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				l.Lock()
				n++
				l.Unlock()
				if l.TryLock() { // a successful TryLock synchronises
					tries++
					l.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	l.Lock()
	check("lock", n, workers*iters)
	_ = tries
	l.Unlock()
}

func rlockCounter() {
	r := threading.NewRLock()
	n := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				r.Acquire()
				r.Acquire() // reentrant
				n++
				_ = r.Release()
				_ = r.Release()
			}
		}()
	}
	wg.Wait()
	check("rlock", n, workers*iters)
}

func rwlockReadersAndWriters() {
	var rw threading.RWLock
	data := map[int]int{}
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				rw.Lock()
				data[i%16]++
				rw.Unlock()
			}
		}()
	}
	for r := 0; r < workers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				rw.RLock()
				_ = data[i%16] // readers only read
				rw.RUnlock()
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, v := range data {
		total += v
	}
	check("rwlock", total, 2*iters)
}

func conditionQueue() {
	c := threading.NewCondition(threading.NewLock())
	var queue []int
	sum := 0
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // producer
		defer wg.Done()
		for i := 1; i <= iters; i++ {
			c.Acquire()
			queue = append(queue, i)
			_ = c.Notify(1)
			_ = c.Release()
		}
	}()
	go func() { // consumer
		defer wg.Done()
		for got := 0; got < iters; got++ {
			c.Acquire()
			for len(queue) == 0 {
				_ = c.Wait()
			}
			sum += queue[0]
			queue = queue[1:]
			_ = c.Release()
		}
	}()
	wg.Wait()
	check("condition", sum, iters*(iters+1)/2)
}

func semaphorePublish() {
	s, err := threading.NewSemaphore(0)
	if err != nil {
		panic(err)
	}
	vals := make([]int, iters)
	go func() {
		for i := range vals {
			vals[i] = i + 1 // published by Release
			_ = s.Release()
		}
	}()
	sum := 0
	for i := range vals {
		s.Acquire()
		sum += vals[i]
	}
	check("semaphore", sum, iters*(iters+1)/2)
}

func eventPublish() {
	for round := 0; round < 20; round++ {
		var ev threading.Event
		var payload int
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ev.Wait()
				check("event", payload, round+1)
			}()
		}
		payload = round + 1 // published by Set
		ev.Set()
		wg.Wait()
	}
}

func barrierRounds() {
	b, err := threading.NewBarrier(workers)
	if err != nil {
		panic(err)
	}
	slots := make([]int, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 1; round <= 20; round++ {
				slots[w] = round // each party writes its own slot
				if _, err := b.Wait(); err != nil {
					panic(err)
				}
				for _, v := range slots { // then reads everybody's
					check("barrier", v, round)
				}
				if _, err := b.Wait(); err != nil { // before anybody writes again
					panic(err)
				}
			}
		}()
	}
	wg.Wait()
}

func threadStartJoin() {
	for i := 0; i < 20; i++ {
		in, out := i, 0
		t := threading.NewThread(func(context.Context) error {
			out = in * 2 // reads what was written before Start
			return nil
		})
		if err := t.Start(); err != nil {
			panic(err)
		}
		if err := t.Join(); err != nil {
			panic(err)
		}
		check("thread", out, i*2) // reads what the target wrote, after Join
	}
}

func main() {
	lockCounter()
	rlockCounter()
	rwlockReadersAndWriters()
	conditionQueue()
	semaphorePublish()
	eventPublish()
	barrierRounds()
	threadStartJoin()
	fmt.Println("ok")
}
