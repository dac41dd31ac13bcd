package store

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
)

// Store talks to CouchDB. It is safe for concurrent use. Close it to flush pending activation records.
type Store struct {
	cfg    Config
	set    settings
	base   string // "<protocol>://<host>:<port>"
	client *http.Client
	log    zerolog.Logger
	cache  *actionCache

	flightMu sync.Mutex
	flights  map[cacheKey]*flight // in-progress fetches, so concurrent misses share one request

	bulk  *batcher
	stats counters
}

type counters struct {
	cacheHits, cacheMisses     atomic.Int64
	bulkRequests, bulkFailures atomic.Int64
}

// Stats is a snapshot of the store's counters, for metrics.
type Stats struct {
	CacheHits, CacheMisses int64 // GetAction calls with a revision, served from / not from the cache
	CacheEntries           int
	BulkRequests           int64 // _bulk_docs requests that got a per-document answer
	BulkFailures           int64 // batches that failed as a whole (every caller got an error)
}

// Stats returns the current counters.
func (s *Store) Stats() Stats {
	return Stats{
		CacheHits:    s.stats.cacheHits.Load(),
		CacheMisses:  s.stats.cacheMisses.Load(),
		CacheEntries: s.cache.len(),
		BulkRequests: s.stats.bulkRequests.Load(),
		BulkFailures: s.stats.bulkFailures.Load(),
	}
}

// New validates cfg and starts the activation batcher. It makes no request: use Ping to check reachability.
func New(cfg Config, log zerolog.Logger, opts ...Option) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	set := defaultSettings()
	for _, o := range opts {
		o(&set)
	}
	client := set.httpClient
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		tr.MaxIdleConns = 64
		client = &http.Client{Transport: tr}
	}
	s := &Store{
		cfg:     cfg,
		set:     set,
		base:    cfg.baseURL(),
		client:  client,
		log:     log.With().Str("component", "store").Logger(),
		cache:   newActionCache(set.cacheSize),
		flights: make(map[cacheKey]*flight),
	}
	s.bulk = newBatcher(s)
	return s, nil
}

// Config returns the configuration the store was built with.
func (s *Store) Config() Config { return s.cfg }

// Close stops accepting activation records, flushes the pending ones and waits until every caller of
// PutActivation has its answer. Later calls return ErrClosed. Close is idempotent.
func (s *Store) Close() error {
	s.bulk.close()
	return nil
}
