package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"

	"github.com/threadmon/threadmon/metrics"
	"github.com/threadmon/threadmon/threading"
	"github.com/threadmon/threadmon/threading/zaplog"
	"github.com/threadmon/threadmon/tracing"
)

// An HTTP service with Prometheus metrics, OpenTelemetry spans for slow waits
// and zap logs, wired in a few lines.
func Example_service() {
	zaplog.Install(zap.NewNop())       // your *zap.Logger
	tp := sdktrace.NewTracerProvider() // your TracerProvider
	defer tp.Shutdown(context.Background())
	defer tracing.Register(tracing.WithTracerProvider(tp)).Close()
	reg := prometheus.NewRegistry()
	m, _ := metrics.Register(reg, metrics.WithTraceIDs(tracing.TraceID))
	defer m.Close()

	mu := threading.NewLock(threading.WithName("hits")) // was: sync.Mutex
	hits := 0
	mux := http.NewServeMux()
	mux.HandleFunc("/hit", func(w http.ResponseWriter, r *http.Request) {
		if err := mu.AcquireContext(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer mu.Unlock()
		hits++
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	for i := 0; i < 3; i++ {
		resp, _ := http.Get("http://" + ln.Addr().String() + "/hit")
		resp.Body.Close()
	}
	resp, _ := http.Get("http://" + ln.Addr().String() + "/metrics")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, `threading_acquisitions_total{kind="Lock",name="hits"}`) {
			fmt.Println(line)
		}
	}
	fmt.Println("hits:", hits)
	// Output:
	// threading_acquisitions_total{kind="Lock",name="hits"} 3
	// hits: 3
}
