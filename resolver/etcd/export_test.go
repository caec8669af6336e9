package etcd

import (
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/resolver/internal/watchshare"
)

// ListCount returns how many times the resolver r listed its service.
func ListCount(r resolver.Resolver) int64 { return watcherOf(r).lists.Load() }

// Removing reports whether a Deregister of reg is removing its key.
func Removing(reg *Registration) bool { return len(reg.removing) == 1 }

// ListAttempts returns how many times the resolver r tried to list its
// service, failures included.
func ListAttempts(r resolver.Resolver) int64 { return watcherOf(r).listAttempts.Load() }

// watcherOf returns the watch the resolver r subscribes to.
func watcherOf(r resolver.Resolver) *watcher {
	return r.(*watchshare.Member).Hub().Watch.(*watcher)
}

// Watches returns how many watches the builder b runs.
func Watches(b resolver.Builder) int { return b.(*builder).watches.Watches() }

// TotalListAttempts returns how many times the watches of the resolvers rs
// tried to list their service, failures included, each watch counted once.
func TotalListAttempts(rs []resolver.Resolver) int64 {
	seen := map[*watcher]bool{}
	var n int64
	for _, r := range rs {
		if w := watcherOf(r); !seen[w] {
			seen[w] = true
			n += w.listAttempts.Load()
		}
	}
	return n
}
