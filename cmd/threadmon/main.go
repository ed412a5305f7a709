// Command threadmon watches the threads and primitives of package threading.
//
// This first version runs the built-in demo workload (-demo) and prints the
// live thread registry and the most contended primitives as text, once per
// interval. The HTTP sidecar, web UI and deadlock view come with the
// contention package.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/threadmon/threadmon/threading"
)

func main() {
	demo := flag.Bool("demo", false, "run the built-in demo workload and watch it")
	duration := flag.Duration("duration", 30*time.Second, "how long the demo runs (0: until interrupted)")
	interval := flag.Duration("interval", time.Second, "how often to print the registry")
	flag.Parse()
	if !*demo {
		fmt.Fprintln(os.Stderr, "threadmon: nothing to do; run with -demo (the HTTP sidecar comes in a later release)")
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	threading.Main(func() {
		w := startDemo(ctx)
		tick := time.NewTicker(*interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				w.stop()
				printSnapshot(os.Stdout, w)
				fmt.Println("threadmon: demo finished")
				return
			case <-tick.C:
				printSnapshot(os.Stdout, w)
			}
		}
	})
}

func printSnapshot(out io.Writer, w *workload) {
	fmt.Fprintf(out, "\n== %s  threads=%d  transfers=%d  items=%d  rounds=%d\n",
		time.Now().Format(time.TimeOnly), threading.ActiveCount(), w.transfers.Load(), w.consumed.Load(), w.rounds.Load())
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "THREAD\tIDENT\tSTATE\tWAITS ON\tFOR")
	for _, t := range threading.Enumerate() {
		if t.IsDummy() {
			continue
		}
		state, on, since := "running", "", ""
		if wi, ok := t.Waiting(); ok {
			state = "waiting (" + wi.Kind.String() + ")"
			on = wi.Primitive.String()
			since = time.Since(wi.Since).Round(time.Microsecond).String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", t.Name(), t.Ident(), state, on, since)
	}
	tw.Flush()
	classes := threading.Classes()
	sort.Slice(classes, func(i, j int) bool { return classes[i].Stats.WaitTotal > classes[j].Stats.WaitTotal })
	fmt.Fprintln(tw, "\nPRIMITIVE\tKIND\tACQUIRED\tCONTENDED\tTIMEOUTS\tWAIT TOTAL")
	for i, c := range classes {
		if i == 8 {
			break
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", c.Label, c.Kind, c.Stats.Acquisitions, c.Stats.Contentions, c.Stats.Timeouts, c.Stats.WaitTotal.Round(time.Microsecond))
	}
	tw.Flush()
}
