package contention

import (
	"sync"
	"time"
)

// Goroutines that are not threads and had no record in the registry leave
// no trace when they end: a lock one of them held when it ended shows its
// holder as "unknown". The Detector finds out whether such a holder still
// exists from a goroutine dump, but only for a holder that has kept a
// thread waiting for good (it holds alone what the thread waits on, or is
// among an RWLock's readers a writer waits for) for at least orphanAge, and
// at most once every orphanEvery: a dump stops the world.
const (
	orphanAge   = 2 * time.Second
	orphanEvery = 5 * time.Second
)

// endedHolders remembers the unknown holders found ended (goroutine ids are
// never reused, so one found ended stays ended), kept while the graph still
// shows them holding something.
type endedHolders struct {
	mu    sync.Mutex
	last  time.Time
	ended map[uint64]time.Time // ident to the dump that did not have it
}

// mark sets to "finished" the unknown holders of g that have ended.
func (e *endedHolders) mark(g *Graph) {
	if g.remote {
		return
	}
	var candidates []*Thread
	seen := map[string]bool{}
	for _, t := range g.Threads {
		if t.Wait == nil || t.Wait.Seconds < orphanAge.Seconds() {
			continue
		}
		p := g.prims[t.Wait.Primitive]
		if p == nil {
			continue
		}
		hs := p.Holders
		switch t.Wait.On {
		case "writer":
			if p.Writer != "" {
				hs = []string{p.Writer}
			}
		case "readers":
			hs = p.Readers
		}
		if len(hs) != 1 && t.Wait.On != "readers" {
			continue
		}
		for _, h := range hs {
			if ht := g.threads[h]; ht != nil && ht.State == "unknown" && !seen[h] {
				seen[h] = true
				candidates = append(candidates, ht)
			}
		}
	}
	if len(candidates) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var unchecked []uint64
	for _, ht := range candidates {
		if _, ok := e.ended[ht.Ident]; !ok {
			unchecked = append(unchecked, ht.Ident)
		}
	}
	if len(unchecked) > 0 && g.Time.Sub(e.last) >= orphanEvery {
		e.last = g.Time
		// A dump begun after the snapshot: a holder it lacks existed when
		// it took the lock, before the snapshot, and has ended since.
		d := sharedDump(g.Time)
		if d.complete() {
			for _, id := range unchecked {
				if d.stack(id) == "" {
					if e.ended == nil {
						e.ended = map[uint64]time.Time{}
					}
					e.ended[id] = d.at
				}
			}
		}
	}
	keep := map[uint64]time.Time{}
	for _, ht := range candidates {
		if at, ok := e.ended[ht.Ident]; ok {
			keep[ht.Ident] = at
			ht.State = "finished"
			ht.EndedBefore = &at
		}
	}
	e.ended = keep
	if len(keep) > 0 {
		g.analysed = false
		g.Components()
	}
}

// complete reports whether the dump holds every goroutine (it was not cut
// at maxDumpBuf).
func (d *stackDump) complete() bool { return len(d.buf) < maxDumpBuf }
