// A failed TryLock on a threading.Lock is no synchronisation: main reads a
// variable that the goroutine holding the lock wrote, and the race detector
// must report it, as it does with sync.Mutex (../mutex_trylock_failed).
//
// The holder writes under the lock, unlocks, locks again and blocks while
// holding it; with GOMAXPROCS(1), main's TryLock runs only then. A failed
// TryLock that acquires what the holder's last Lock released hides the
// race. Exit status 3 says the run missed that order (TryLock succeeded),
// and proves nothing.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/threadmon/threadmon/threading"
)

var shared int

func holder(l *threading.Lock, done <-chan struct{}, wg *sync.WaitGroup) {
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
	var l threading.Lock
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
