package sample

import (
	"context"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAccount(t *testing.T) {
	var a Account
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Deposit(2)
		}()
	}
	wg.Wait()
	if a.Balance() != 100 {
		t.Fatalf("balance %d", a.Balance())
	}
}

func TestCache(t *testing.T) {
	c := NewCache()
	c.Set("a", "1")
	if v, ok := c.Get("a"); !ok || v != "1" || !c.Hit("a") || c.Hit("b") {
		t.Fatalf("get %q %v", v, ok)
	}
}

func TestQueue(t *testing.T) {
	q := NewQueue()
	done := make(chan int)
	go func() {
		s := 0
		for range 3 {
			s += q.Get()
		}
		done <- s
	}()
	for i := 1; i <= 3; i++ {
		q.Put(i)
	}
	if s := <-done; s != 6 || q.Len() != 0 {
		t.Fatalf("sum %d len %d", s, q.Len())
	}
}

func TestWork(t *testing.T) {
	if Config()["workers"] != 4 || Answer() != 42 || Hello() != 1 || Hello() != 1 {
		t.Fatal("once")
	}
	if Sum([]int{1, 2, 3, 4}) != 10 {
		t.Fatal("sum")
	}
	if sq := Squares([]int{1, 2, 3}); sq[2] != 9 {
		t.Fatalf("squares %v", sq)
	}
}

func TestFetch(t *testing.T) {
	if n, err := Lengths([]string{"a", "bcd"}); err != nil || n[1] != 3 {
		t.Fatalf("%v %v", n, err)
	}
	if _, err := Lengths([]string{"a", ""}); err == nil {
		t.Fatal("no error")
	}
	if err := Process(context.Background(), []int{1, 2, 3, 4}, 2); err != nil {
		t.Fatal(err)
	}
	if err := Process(context.Background(), []int{1, -2, 3}, 1); err == nil {
		t.Fatal("no error")
	}
}
