package store

import (
	"container/list"
	"sync"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// cacheKey is (document id, revision): a revision names immutable content, so an entry never goes stale.
type cacheKey struct{ id, rev string }

type cacheEntry struct {
	key    cacheKey
	action *wire.Action
}

// actionCache is a bounded LRU of resolved actions, safe for concurrent use. A nil cache (size 0) misses.
type actionCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recently used
	items map[cacheKey]*list.Element
}

func newActionCache(max int) *actionCache {
	if max <= 0 {
		return nil
	}
	return &actionCache{max: max, order: list.New(), items: make(map[cacheKey]*list.Element, max)}
}

func (c *actionCache) get(k cacheKey) (*wire.Action, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).action, true
}

func (c *actionCache) put(k cacheKey, a *wire.Action) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		el.Value.(*cacheEntry).action = a
		c.order.MoveToFront(el)
		return
	}
	c.items[k] = c.order.PushFront(&cacheEntry{key: k, action: a})
	for c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*cacheEntry).key)
	}
}

func (c *actionCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
