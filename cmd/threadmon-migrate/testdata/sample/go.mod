module example.com/sample

go 1.26.0

require (
	github.com/threadmon/threadmon v0.0.0-00010101000000-000000000000
	go.uber.org/goleak v1.3.0
	golang.org/x/sync v0.24.0
)

require github.com/petermattis/goid v0.0.0-20260820044319-269ab09b5261 // indirect

replace github.com/threadmon/threadmon => ../../../..
