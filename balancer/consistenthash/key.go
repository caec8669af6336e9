package consistenthash

import (
	"context"

	"google.golang.org/grpc/metadata"
)

// keyCtxKey is the context key of a request's hash key.
type keyCtxKey struct{}

// hashedKey is a request key as stored in a context: its hash, computed once
// by WithKey so that Pick does not hash it again.
type hashedKey struct{ h uint64 }

// WithKey returns a copy of ctx that carries key as the consistent-hash key of
// the RPCs made with it. It wins over the configured hashHeader. Requests with
// equal keys go to the same endpoint while it is READY (and, with bounded
// loads, not over its share).
func WithKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyCtxKey{}, hashedKey{hashString(key)})
}

// requestHash returns the hash of the request's key: the one set by WithKey,
// else the values of header joined by ",", and whether there was a key.
func requestHash(ctx context.Context, header string) (uint64, bool) {
	if k, ok := ctx.Value(keyCtxKey{}).(hashedKey); ok {
		return k.h, true
	}
	if header == "" {
		return 0, false
	}
	// ValueFromOutgoingContext copies the values: the one allocation of a
	// header-keyed Pick. grpc-go exposes no copy-free accessor.
	vals := metadata.ValueFromOutgoingContext(ctx, header)
	if len(vals) == 0 {
		return 0, false
	}
	return hashValues(vals), true
}

// FNV-1a, finished with a 64-bit mixer (murmur3's fmix64) so that keys that
// differ in a few bits spread over the whole table. It is stable across
// processes and versions: clients that share a ring agree on every key.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashString(s string) uint64 {
	return mix64(fnvString(fnvOffset, s))
}

// hashValues hashes vals as if they were joined with ",", without joining.
func hashValues(vals []string) uint64 {
	h := uint64(fnvOffset)
	for i, v := range vals {
		if i > 0 {
			h = (h ^ ',') * fnvPrime
		}
		h = fnvString(h, v)
	}
	return mix64(h)
}

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

// mix64 is murmur3's 64-bit finalizer: a bijection with full avalanche.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
