package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// scraper fetches a server's /metrics at a steady pace, as Prometheus
// would, so that a run measures the server with its metrics read.
type scraper struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	n     int   // scrapes that succeeded
	bytes int64 // their bodies, in all
	err   error // the first that failed
}

func startScraper(url string, every time.Duration) *scraper {
	ctx, cancel := context.WithCancel(context.Background())
	s := &scraper{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			n, err := scrapeOnce(ctx, url)
			s.mu.Lock()
			if err != nil && ctx.Err() == nil && s.err == nil {
				s.err = err
			}
			if err == nil {
				s.n++
				s.bytes += n
			}
			s.mu.Unlock()
		}
	}()
	return s
}

func scrapeOnce(ctx context.Context, url string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", url, resp.Status)
	}
	return n, err
}

// stop ends the scrapes and says how they went.
func (s *scraper) stop() (string, error) {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return "", fmt.Errorf("scraping /metrics: %w", s.err)
	}
	avg := int64(0)
	if s.n > 0 {
		avg = s.bytes / int64(s.n)
	}
	return fmt.Sprintf("scraped /metrics %d times, %d bytes each on average", s.n, avg), nil
}
