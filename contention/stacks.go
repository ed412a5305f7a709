package contention

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/threadmon/threadmon/internal/gdump"
	"golang.org/x/sync/singleflight"
)

// A goroutine dump (runtime.Stack with all set) stops the world while it
// writes every goroutine's stack: tens of milliseconds and megabytes at
// 20,000 goroutines. So the package takes one only for what a person is
// shown, the threads of a deadlock or long-wait report and a thread opened
// through /stack, never to answer a poll; and it shares it. Callers that
// arrive while a dump is being taken wait for that one (singleflight), a
// dump serves every caller for dumpTTL after it began, and the next dump's
// buffer is sized from the last one, so it is written once rather than
// retried into doubling buffers. The cached dump is dropped after dumpTTL:
// only its size outlives it.

// dumpTTL is how long a dump is served to callers that accept one that old.
// A variable so that tests can stretch it.
var dumpTTL = time.Second

const (
	minDumpBuf = 64 << 10
	maxDumpBuf = 64 << 20
)

// stackDump is one dump of all goroutines, read-only once taken.
type stackDump struct {
	at     time.Time // when the dump began
	buf    []byte
	once   sync.Once
	blocks map[uint64][2]int // goroutine id to its block in buf, built on first use
}

var dumps struct {
	group singleflight.Group
	mu    sync.Mutex
	last  *stackDump // nil once dropped
	size  int        // bytes in the last dump
}

// stackCalls counts runtime.Stack(buf, true) calls: for tests, which check
// that polling never takes a dump.
var stackCalls atomic.Int64

// sharedDump returns a dump of all goroutines begun no earlier than
// notBefore: the cached one if it is recent enough, else the one in flight
// or a new one.
func sharedDump(notBefore time.Time) *stackDump {
	cached := func() *stackDump {
		dumps.mu.Lock()
		defer dumps.mu.Unlock()
		if d := dumps.last; d != nil && !d.at.Before(notBefore) {
			return d
		}
		return nil
	}
	for {
		if d := cached(); d != nil {
			return d
		}
		v, _, _ := dumps.group.Do("dump", func() (any, error) {
			if d := cached(); d != nil { // one finished since we looked
				return d, nil
			}
			return takeDump(), nil
		})
		if d := v.(*stackDump); !d.at.Before(notBefore) {
			return d
		}
		// Joined a flight for an older dump: the next one will do.
	}
}

func takeDump() *stackDump {
	dumps.mu.Lock()
	size := dumps.size
	dumps.mu.Unlock()
	n := max(minDumpBuf, min(maxDumpBuf, size+size/4+4096))
	d := &stackDump{at: time.Now()}
	buf := make([]byte, n)
	for {
		stackCalls.Add(1)
		written := runtime.Stack(buf, true)
		if written < len(buf) || len(buf) >= maxDumpBuf {
			d.buf = buf[:written]
			break
		}
		buf = make([]byte, min(maxDumpBuf, 2*len(buf)))
	}
	dumps.mu.Lock()
	dumps.last, dumps.size = d, len(d.buf)
	dumps.mu.Unlock()
	time.AfterFunc(dumpTTL, func() {
		dumps.mu.Lock()
		if dumps.last == d {
			dumps.last = nil
		}
		dumps.mu.Unlock()
	})
	return d
}

// stack returns goroutine id's block of the dump ("goroutine 12 [chan
// receive]:\n..."), or "" when the dump does not hold it.
func (d *stackDump) stack(id uint64) string {
	d.once.Do(func() {
		d.blocks = map[uint64][2]int{}
		gdump.Blocks(d.buf, func(id uint64, start, end int) { d.blocks[id] = [2]int{start, end} })
	})
	if s, ok := d.blocks[id]; ok {
		return string(d.buf[s[0]:s[1]])
	}
	return ""
}

// goroutineStacks returns the stacks of the given goroutines from a shared
// dump begun no earlier than notBefore.
func goroutineStacks(idents []uint64, notBefore time.Time) map[uint64]string {
	out := make(map[uint64]string, len(idents))
	if len(idents) == 0 {
		return out
	}
	d := sharedDump(notBefore)
	for _, id := range idents {
		if s := d.stack(id); s != "" {
			out[id] = s
		}
	}
	return out
}
