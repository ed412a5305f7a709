package threading_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/threadmon/threadmon/threading"
)

// Embedding a Mutex keeps Lock and Unlock on the outer type, as with
// sync.Mutex.
func ExampleMutex() {
	type counter struct {
		threading.Mutex // was: sync.Mutex
		n               int
	}
	var c counter
	var wg threading.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Go(func() {
			c.Lock()
			c.n++
			c.Unlock()
		})
	}
	wg.Wait()
	fmt.Println(c.n)
	// Output: 100
}

// A Cond over a plain sync.Mutex; Signal needs no lock.
func ExampleCond() {
	var mu sync.Mutex
	ready := threading.NewCond(&mu, threading.WithName("ready"))
	queue := []string{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		mu.Lock()
		for len(queue) == 0 {
			ready.Wait()
		}
		fmt.Println("got", queue[0])
		mu.Unlock()
	}()
	mu.Lock()
	queue = append(queue, "job")
	mu.Unlock()
	ready.Signal()
	<-done
	// Output: got job
}

// A WaitGroup's Go starts Threads named after the group.
func ExampleWaitGroup() {
	wg := threading.NewWaitGroup(threading.WithName("fetch"))
	var mu threading.Mutex
	var names []string
	for i := 0; i < 3; i++ {
		wg.Go(func() {
			mu.Lock()
			names = append(names, threading.CurrentThread().Name())
			mu.Unlock()
		})
	}
	wg.Wait()
	fmt.Println(len(names), wg.Counter())
	// Output: 3 0
}

func ExampleOnce() {
	var once threading.Once
	for i := 0; i < 3; i++ {
		once.Do(func() { fmt.Println("initialised") })
	}
	// Output: initialised
}

// Group is errgroup's API: the first error cancels the context and is what
// Wait returns.
func ExampleGroupWithContext() {
	g, ctx := threading.GroupWithContext(context.Background(), threading.WithName("crawl"))
	g.SetLimit(2)
	for _, url := range []string{"a", "b", "bad", "c"} {
		g.Go(func() error {
			if url == "bad" {
				return errors.New("fetch bad: 404")
			}
			select {
			case <-ctx.Done():
			default:
			}
			return nil
		})
	}
	fmt.Println(g.Wait())
	// Output: fetch bad: 404
}
