package sample

import (
	"sync"

	"example.com/sample/guard"
)

// Queue is a blocking queue on a Cond made by sync.NewCond.
type Queue struct {
	mu    sync.Mutex
	cond  *sync.Cond
	items []int
}

// NewQueue returns an empty queue.
func NewQueue() *Queue {
	q := &Queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Put appends v and wakes a getter.
func (q *Queue) Put(v int) {
	guard.With(&q.mu, func() { q.items = append(q.items, v) })
	q.cond.Signal()
}

// Get waits for an item and removes it.
func (q *Queue) Get() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 {
		q.cond.Wait()
	}
	v := q.items[0]
	q.items = q.items[1:]
	return v
}

// Len is the number of items waiting.
func (q *Queue) Len() (n int) {
	guard.With(&q.mu, func() { n = len(q.items) })
	return n
}
