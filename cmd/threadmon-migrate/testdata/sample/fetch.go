package sample

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// Lengths measures the words concurrently with an errgroup.Group.
func Lengths(words []string) ([]int, error) {
	var g errgroup.Group
	out := make([]int, len(words))
	for i, w := range words {
		g.Go(func() error {
			if w == "" {
				return errors.New("empty word")
			}
			out[i] = len(w)
			return nil
		})
	}
	return out, g.Wait()
}

// Process handles items at most limit at a time; the first failure cancels
// the rest.
func Process(ctx context.Context, items []int, limit int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, it := range items {
		g.Go(func() error {
			if it < 0 {
				return fmt.Errorf("negative item %d", it)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			default:
				return nil
			}
		})
	}
	return g.Wait()
}
