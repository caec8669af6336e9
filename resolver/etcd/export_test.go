package etcd

import "google.golang.org/grpc/resolver"

// ListCount returns how many times the resolver r listed its service.
func ListCount(r resolver.Resolver) int64 { return r.(*watcher).lists.Load() }

// Removing reports whether a Deregister of reg is removing its key.
func Removing(reg *Registration) bool { return len(reg.removing) == 1 }

// ListAttempts returns how many times the resolver r tried to list its
// service, failures included.
func ListAttempts(r resolver.Resolver) int64 { return r.(*watcher).listAttempts.Load() }
