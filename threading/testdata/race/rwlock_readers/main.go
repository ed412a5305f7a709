// Two goroutines each hold a threading.RWLock's read lock and write the same
// variable. Readers do not synchronise with each other, so the race detector
// must report the two writes, as it does with sync.RWMutex
// (../rwmutex_readers).
//
// With GOMAXPROCS(1) the readers run one after the other (the second starts
// once the first has blocked or ended), so a read lock that orders one
// reader's RUnlock before the next reader's RLock hides the race; one that
// does not, like sync.RWMutex, shows it whatever the order.
package main

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/threadmon/threadmon/threading"
)

var shared int

func reader(rw *threading.RWLock, v int, wg *sync.WaitGroup) {
	defer wg.Done()
	rw.RLock()
	shared = v // a write under a read lock: the bug -race must see
	rw.RUnlock()
}

func main() {
	runtime.GOMAXPROCS(1)
	var rw threading.RWLock
	var wg sync.WaitGroup
	wg.Add(2)
	go reader(&rw, 1, &wg)
	go reader(&rw, 2, &wg)
	wg.Wait()
	fmt.Println("done", shared)
}
