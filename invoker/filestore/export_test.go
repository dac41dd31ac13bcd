package filestore

import "time"

// WithClock sets the clock used for the "updated" member of activation records and sample documents.
// Default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}
