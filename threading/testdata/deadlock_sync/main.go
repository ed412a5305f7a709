// The control of ../deadlock: a sync.Mutex locked twice in the only
// goroutine. The runtime ends it with "fatal error: all goroutines are
// asleep - deadlock!" and exit status 2.
package main

import "sync"

func main() {
	var mu sync.Mutex
	mu.Lock()
	mu.Lock()
}
