package sample

import "sync"

// Cache is a map guarded by a RWMutex, with a sync.Map of hits: the sync
// import stays for it.
type Cache struct {
	mu   sync.RWMutex
	m    map[string]string
	hits sync.Map
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{m: map[string]string{}} }

// Get reads key.
func (c *Cache) Get(key string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[key]
	if ok {
		c.hits.Store(key, true)
	}
	return v, ok
}

// Set writes key.
func (c *Cache) Set(key, value string) {
	if !c.mu.TryLock() {
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	c.m[key] = value
}

// Hit reports whether key was read.
func (c *Cache) Hit(key string) bool {
	_, ok := c.hits.Load(key)
	return ok
}
