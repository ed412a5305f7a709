package sample_test

import (
	"testing"

	"golang.org/x/sync/errgroup"

	"example.com/sample"
)

func TestConcurrentAccounts(t *testing.T) {
	var a sample.Account
	var g errgroup.Group
	for range 10 {
		g.Go(func() error {
			a.Deposit(1)
			return nil
		})
	}
	if err := g.Wait(); err != nil || a.Balance() != 10 {
		t.Fatalf("%v %d", err, a.Balance())
	}
}
