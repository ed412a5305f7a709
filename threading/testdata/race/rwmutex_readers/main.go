// The control of ../rwlock_readers, with sync.RWMutex: two goroutines each
// hold the read lock and write the same variable; the race detector reports
// it whatever order the readers run in, since readers do not synchronise
// with each other.
package main

import (
	"fmt"
	"runtime"
	"sync"
)

var shared int

func reader(rw *sync.RWMutex, v int, wg *sync.WaitGroup) {
	defer wg.Done()
	rw.RLock()
	shared = v // a write under a read lock: the bug -race must see
	rw.RUnlock()
}

func main() {
	runtime.GOMAXPROCS(1)
	var rw sync.RWMutex
	var wg sync.WaitGroup
	wg.Add(2)
	go reader(&rw, 1, &wg)
	go reader(&rw, 2, &wg)
	wg.Wait()
	fmt.Println("done", shared)
}
