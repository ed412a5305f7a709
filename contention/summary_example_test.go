package contention_test

import (
	"fmt"
	"time"

	"github.com/threadmon/threadmon/contention"
)

// Summarize groups a graph for a person to read: here 300 threads waiting on
// one lock become one line.
func ExampleSummarize() {
	now := time.Now()
	g := &contention.Graph{Time: now, Primitives: []*contention.Primitive{
		{ID: "p1", Kind: "Lock", Label: "db", Holders: []string{"t1"}},
	}, Threads: []*contention.Thread{{ID: "t1", Name: "worker-3", Ident: 1, State: "running", Holds: []string{"p1"}}}}
	for i := 2; i <= 301; i++ {
		g.Threads = append(g.Threads, &contention.Thread{ID: fmt.Sprint("t", i), Name: fmt.Sprint("client-", i), Ident: uint64(i),
			State: "waiting", Holds: []string{}, Wait: &contention.Wait{Primitive: "p1", Kind: "acquire", Since: now}})
	}
	s := contention.Summarize(g, contention.SummaryOptions{})
	for _, grp := range s.Groups {
		fmt.Println(grp.Title)
	}
	// Output:
	// 300 threads wait to acquire Lock db, held by worker-3
	// 1 thread running
}
