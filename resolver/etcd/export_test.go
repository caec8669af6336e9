package etcd

import "google.golang.org/grpc/resolver"

// ListCount returns how many times the resolver r listed its service.
func ListCount(r resolver.Resolver) int64 { return r.(*watcher).lists.Load() }
