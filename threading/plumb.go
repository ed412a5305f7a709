package threading

import "github.com/threadmon/threadmon/internal/plumb"

// What package contention needs from this package and users do not goes
// through internal/plumb, so that go doc shows users only what is theirs.
func init() {
	plumb.BreakWait = func(ident, seq uint64) bool {
		t := lookupThread(ident)
		return t != nil && breakWait(t, seq)
	}
	plumb.RWState = rwState
	plumb.DrainWait = func(w any) bool {
		wi, ok := w.(*WaitInfo)
		return ok && wi.drain
	}
	plumb.EndedThread = endedThread
	plumb.Publish = func(r any) { publish(r.(*Report)) }
	plumb.ClassOf = func(p any) (uint8, string) {
		q := p.(Primitive)
		k := q.primKind()
		if k == KindThread {
			return uint8(k), q.primClass()
		}
		return uint8(k), label(q)
	}
	plumb.Holders = func(p any) []uint64 {
		if p, ok := p.(Primitive); ok {
			return p.holders()
		}
		return nil
	}
	plumb.SetLockTracker = setLockTracker
	plumb.WaiterStacks = waiterStacksSnapshot
	plumb.ReleaserStacks = releaserStacksSnapshot
}
