package cliutil

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// ErrInterrupted is the cause of a context that InterruptContext cancelled
// because the process received SIGINT or SIGTERM.
var ErrInterrupted = errors.New("interrupted")

// InterruptContext returns a context that is cancelled, with cause
// ErrInterrupted, on the first SIGINT or SIGTERM; onSignal, when not nil,
// runs just before (to say what stopping means). Call stop when the command
// is done: it releases the signal handler and the context.
func InterruptContext(onSignal func()) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
			if onSignal != nil {
				onSignal()
			}
			cancel(ErrInterrupted)
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel(nil)
	}
}
