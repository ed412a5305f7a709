//go:build amd64 || arm64

package threading

// procyield executes the CPU's spin-wait hint (PAUSE, YIELD) cycles times,
// as the runtime does for sync.Mutex: it lets the other hyper-thread run and
// keeps a spinning core from hammering the lock's cache line.
//
//go:noescape
func procyield(cycles uint32)
