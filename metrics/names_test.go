package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/threadmon/threadmon/threading"
)

// A name that is not valid UTF-8, or is a megabyte long, never breaks the
// scrape: /metrics answers 200, valid UTF-8, and stays small.
func TestHostileNamesNeverBreakTheScrape(t *testing.T) {
	reg, _ := register(t)
	invalid := threading.NewLock(threading.WithName("conn\xff\xfe" + uniq("bad")))
	huge := threading.NewLock(threading.WithName(strings.Repeat("n", 1<<20)))
	contend(t, invalid, time.Millisecond)
	contend(t, huge, time.Millisecond)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s\n%.500s", resp.Status, body)
	}
	if !utf8.Valid(body) {
		t.Fatal("/metrics is not valid UTF-8")
	}
	if len(body) > 1<<20 {
		t.Fatalf("/metrics is %d bytes with one long name", len(body))
	}
	if !strings.Contains(string(body), `name="conn`+"\uFFFD") {
		t.Fatalf("the repaired name is not in the exposition:\n%.2000s", body)
	}
}

// WithBuckets replaces the classic buckets of the wait histogram.
func TestWithBuckets(t *testing.T) {
	reg, _ := register(t, WithBuckets([]float64{0.5, 5}))
	l := threading.NewLock(threading.WithName(uniq("buckets")))
	contend(t, l, time.Millisecond)
	m := sample(t, reg, "threading_wait_seconds", map[string]string{"name": threading.Describe(l).Name})
	b := m.GetHistogram().GetBucket()
	if len(b) != 2 || b[0].GetUpperBound() != 0.5 || b[1].GetUpperBound() != 5 || b[0].GetCumulativeCount() != 1 {
		t.Fatalf("buckets %v", b)
	}
}
