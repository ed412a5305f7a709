package main

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// connLimiter caps the connections threadmon keeps open. A listener that
// only blocks at the cap (netutil.LimitListener) lets clients that open
// connections and leave them idle hold every slot for the idle timeout,
// while new clients wait in the kernel's queue; this one makes room
// instead: over the cap, a new connection closes the oldest idle one, else
// the oldest one that has not sent a whole request yet, else it is closed
// itself at once (the client sees a refusal, not a minute of silence).
// Connections serving a request are never closed: the server's write
// timeout bounds them.
type connLimiter struct {
	net.Listener
	max     int
	evicted atomic.Int64

	mu    sync.Mutex
	conns map[*limitedConn]*connInfo
}

type connInfo struct {
	state http.ConnState
	since time.Time
}

type limitedConn struct {
	net.Conn
	l    *connLimiter
	once sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.forget(c) })
	return c.Conn.Close()
}

func newConnLimiter(ln net.Listener, max int) *connLimiter {
	return &connLimiter{Listener: ln, max: max, conns: map[*limitedConn]*connInfo{}}
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc := &limitedConn{Conn: c, l: l}
		victim, ok := l.admit(lc)
		if victim != nil {
			l.evicted.Add(1)
			_ = victim.Close()
		}
		if ok {
			return lc, nil
		}
		l.evicted.Add(1)
		_ = c.Close()
	}
}

func (l *connLimiter) admit(lc *limitedConn) (victim *limitedConn, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) >= l.max {
		victim = l.oldest(http.StateIdle)
		if victim == nil {
			victim = l.oldest(http.StateNew)
		}
		if victim == nil {
			return nil, false
		}
		delete(l.conns, victim)
	}
	l.conns[lc] = &connInfo{state: http.StateNew, since: time.Now()}
	return victim, true
}

func (l *connLimiter) oldest(state http.ConnState) *limitedConn {
	var best *limitedConn
	var at time.Time
	for c, info := range l.conns {
		if info.state == state && (best == nil || info.since.Before(at)) {
			best, at = c, info.since
		}
	}
	return best
}

func (l *connLimiter) forget(c *limitedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
}

// connState is the http.Server's ConnState hook.
func (l *connLimiter) connState(c net.Conn, state http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	info := l.conns[lc]
	if info == nil {
		return
	}
	switch state {
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, lc)
	default:
		info.state, info.since = state, time.Now()
	}
}

func (l *connLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}
