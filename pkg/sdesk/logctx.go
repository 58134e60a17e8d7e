package sdesk

import (
	"context"
	"log/slog"
	"sync"
)

type logAttrsKey struct{}

type logAttrs struct {
	mu    sync.Mutex
	attrs []slog.Attr
}

// WithLogAttrs returns a context that collects attributes for the one log
// line written per request (see LogAttrs).
func WithLogAttrs(ctx context.Context) context.Context {
	return context.WithValue(ctx, logAttrsKey{}, &logAttrs{})
}

// AddLogAttrs adds attributes, such as the interaction ID or the issue, to
// the request's log line. Without WithLogAttrs it does nothing.
func AddLogAttrs(ctx context.Context, attrs ...slog.Attr) {
	if la, ok := ctx.Value(logAttrsKey{}).(*logAttrs); ok {
		la.mu.Lock()
		la.attrs = append(la.attrs, attrs...)
		la.mu.Unlock()
	}
}

// LogAttrs returns the attributes added to ctx.
func LogAttrs(ctx context.Context) []slog.Attr {
	la, ok := ctx.Value(logAttrsKey{}).(*logAttrs)
	if !ok {
		return nil
	}
	la.mu.Lock()
	defer la.mu.Unlock()
	return append([]slog.Attr(nil), la.attrs...)
}
