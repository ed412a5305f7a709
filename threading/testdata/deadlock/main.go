// A program that locks a threading.Lock twice in its only goroutine. Go's
// runtime must end it with "fatal error: all goroutines are asleep -
// deadlock!" and exit status 2, as it ends ../deadlock_sync (sync.Mutex).
// That only works while nothing the program imports keeps a goroutine or a
// timer alive (package threading imports no net/http).
package main

import "github.com/threadmon/threadmon/threading"

func main() {
	var l threading.Lock
	l.Lock()
	l.Lock() // not reentrant: nobody can ever release it
}
