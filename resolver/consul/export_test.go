package consul

import (
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/resolver/internal/watchshare"
)

// Stopped reports whether r's registrar, the goroutine that keeps the
// service registered, has ended.
func Stopped(r *Registration) bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// QueryBackend returns the backend the agent answered the last blocking
// query of r's watcher from, "" before the first.
func QueryBackend(r resolver.Resolver) string {
	w := r.(*watchshare.Member).Hub().Watch.(*watcher)
	if b := w.backend.Load(); b != nil {
		return *b
	}
	return ""
}
