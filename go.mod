module github.com/threadmon/threadmon

go 1.26.8

require (
	github.com/petermattis/goid v0.0.0-20260820044319-269ab09b5261
	go.uber.org/goleak v1.3.0
	go.uber.org/zap v1.28.0
	golang.org/x/sync v0.24.0
)

require go.uber.org/multierr v1.10.0 // indirect
