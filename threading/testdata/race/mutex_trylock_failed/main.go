// The control of ../lock_trylock_failed, with sync.Mutex: main reads, after
// a failed TryLock, a variable that the goroutine holding the lock wrote;
// a failed TryLock is no synchronisation, so the race detector reports it.
// Exit status 3 says the run missed the intended order (TryLock succeeded).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
)

var shared int

func holder(l *sync.Mutex, done <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	l.Lock()
	shared = 1 // written while holding the lock
	l.Unlock()
	l.Lock() // holds it again while main tries
	<-done
	l.Unlock()
}

func main() {
	runtime.GOMAXPROCS(1)
	var l sync.Mutex
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go holder(&l, done, &wg)
	for i := 0; i < 3; i++ {
		runtime.Gosched() // the holder runs until it blocks, holding the lock
	}
	if l.TryLock() {
		l.Unlock()
		close(done)
		wg.Wait()
		fmt.Println("SEQUENCE MISSED: TryLock succeeded")
		os.Exit(3)
	}
	v := shared // after a failed TryLock: not synchronised with the holder
	close(done)
	wg.Wait()
	fmt.Println("read", v)
}
