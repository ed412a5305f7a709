package threading

// Mutex is Lock under sync's name, so that a struct embedding it keeps its
// Lock and Unlock methods as with sync.Mutex:
//
//	type account struct {
//		threading.Mutex // was sync.Mutex
//		balance int
//	}
//	a.Lock()
//
// (Embedding Lock would name the field Lock and hide the method.) A Mutex
// is a Lock in every respect: instrumented, named with NewMutex's options,
// in the registry and the wait-for graph, where it shows as a Lock.
type Mutex = Lock

// RWMutex is RWLock under sync's name: a drop-in for sync.RWMutex.
type RWMutex = RWLock

// NewMutex returns an unlocked, named Mutex; the zero value is ready too.
// Options: WithName.
func NewMutex(opts ...Option) *Mutex { return NewLock(opts...) }

// NewRWMutex returns an unlocked, named RWMutex; the zero value is ready too.
// Options: WithName.
func NewRWMutex(opts ...Option) *RWMutex { return NewRWLock(opts...) }
