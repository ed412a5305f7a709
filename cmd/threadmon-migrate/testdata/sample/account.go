// Package sample uses every sync type that threadmon-migrate converts.
package sample

import "sync"

// Account embeds its lock, as sync.Mutex is often embedded.
type Account struct {
	sync.Mutex
	balance int
}

// Deposit adds n to the balance.
func (a *Account) Deposit(n int) {
	a.Lock()
	defer a.Unlock()
	a.balance += n
}

// Balance is the balance now.
func (a *Account) Balance() int {
	a.Lock()
	defer a.Unlock()
	return a.balance
}
