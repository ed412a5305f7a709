//go:build race || !(amd64 || arm64)

package threading

import "sync/atomic"

// holderCount is the atomic form of the acquisition counter of a
// mutual-exclusion lock (see counter_plain.go).
type holderCount struct{ n atomic.Uint64 }

func (c *holderCount) inc()           { c.n.Add(1) }
func (c *holderCount) load() uint64   { return c.n.Load() }
func (c *holderCount) dec()           { c.n.Add(^uint64(0)) }
func (c *holderCount) store(v uint64) { c.n.Store(v) }
