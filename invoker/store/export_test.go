package store

import "time"

// WithMaxAttempts bounds the attempts of a read (GET/PUT) on transient failures, first try included.
// Default is 4.
func WithMaxAttempts(n int) Option {
	return func(s *settings) {
		if n > 0 {
			s.maxAttempts = n
		}
	}
}

// WithBackoff sets the first retry delay and its cap; delays double per attempt, with jitter in
// [d/2, d). Default is 50 ms doubling up to 2 s.
func WithBackoff(base, max time.Duration) Option {
	return func(s *settings) {
		if base > 0 {
			s.backoffBase = base
		}
		if max >= base && max > 0 {
			s.backoffMax = max
		}
	}
}

// WithCacheSize bounds the action cache (entries keyed by id and revision, least recently used evicted).
// 0 disables caching. Default is 1024.
func WithCacheSize(n int) Option {
	return func(s *settings) {
		if n >= 0 {
			s.cacheSize = n
		}
	}
}

// WithBatchSize bounds the documents per _bulk_docs request. Default is 500 (OpenWhisk's batch size).
func WithBatchSize(n int) Option {
	return func(s *settings) {
		if n > 0 {
			s.batchSize = n
		}
	}
}

// WithLinger is how long the batcher holds a batch open for more activation records after its first one
// arrives. Default is 0: a record goes out as soon as a _bulk_docs worker is free, and records batch up only
// while all workers are busy (OpenWhisk's Batcher); a linger trades record latency for fewer requests.
func WithLinger(d time.Duration) Option {
	return func(s *settings) {
		if d >= 0 {
			s.linger = d
		}
	}
}

// WithBatchConcurrency bounds the _bulk_docs requests in flight. Default is 4.
func WithBatchConcurrency(n int) Option {
	return func(s *settings) {
		if n > 0 {
			s.batchWorkers = n
		}
	}
}

// WithClock sets the clock used for the "updated" field of activation records. Default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *settings) {
		if now != nil {
			s.now = now
		}
	}
}
