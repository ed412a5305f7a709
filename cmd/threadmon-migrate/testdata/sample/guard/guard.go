// Package guard runs a function under a lock; it takes a *sync.Mutex, so
// it is converted with the packages that call it.
package guard

import "sync"

// With calls f with mu held.
func With(mu *sync.Mutex, f func()) {
	mu.Lock()
	defer mu.Unlock()
	f()
}
