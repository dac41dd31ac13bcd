package store

import (
	"net/http"
	"time"
)

// settings are the tunables, with the defaults defaultSettings gives.
type settings struct {
	httpClient     *http.Client
	requestTimeout time.Duration
	maxAttempts    int
	backoffBase    time.Duration
	backoffMax     time.Duration
	cacheSize      int
	batchSize      int
	linger         time.Duration
	batchWorkers   int
	bulkAttempts   int
	maxBodyBytes   int64
	now            func() time.Time
	jitter         func(d time.Duration) time.Duration
}

func defaultSettings() settings {
	return settings{
		requestTimeout: 30 * time.Second,
		maxAttempts:    4,
		backoffBase:    50 * time.Millisecond,
		backoffMax:     2 * time.Second,
		cacheSize:      1024,
		batchSize:      500,
		linger:         0,
		batchWorkers:   4,
		bulkAttempts:   3,
		maxBodyBytes:   128 << 20,
		now:            time.Now,
		jitter:         equalJitter,
	}
}

// Option tunes a Store.
type Option func(*settings)

// WithRequestTimeout bounds every single HTTP attempt (on top of the caller's ctx). Default is 30 s.
func WithRequestTimeout(d time.Duration) Option {
	return func(s *settings) {
		if d > 0 {
			s.requestTimeout = d
		}
	}
}
