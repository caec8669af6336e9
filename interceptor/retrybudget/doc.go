// Package retrybudget retries failed unary calls within a retry budget, in
// the manner of Finagle's RetryBudget and Envoy's retry budgets: retries
// are allowed up to a share of the calls that recently succeeded (Ratio,
// default 20 %) plus a reserve per second (MinPerSecond, default 10), over
// a sliding window (default 10 s). A retry over the budget is not sent; the
// caller gets the error of the last attempt, at once; so does a caller whose
// deadline comes before the retry's backoff or pushback ends, without
// spending the budget. A caller cancelled during the backoff gets the same
// error; its retry, counted when the backoff began, stays counted. When a backend fails every
// call, its clients send at most the reserve in retries, instead of
// multiplying the load by the number of attempts just when it is least able
// to take it.
//
// # Why the interceptor retries itself
//
// gRPC's own retries (the service config's retryPolicy) happen inside the
// call, below every interceptor: ClientConn.Invoke hands the interceptor
// chain an invoker whose clientStream makes the attempts (withRetry,
// shouldRetry in grpc-go's stream.go), so an interceptor sees one call
// however many attempts it made, and cannot refuse one of them. Only a
// stats handler sees the attempts (and the server the
// grpc-previous-rpc-attempts header), and neither can stop one. gRPC's own
// limit, retryThrottling, is a token bucket drained by failures: it cannot
// express "a share of recent successes plus a floor". So this package's
// interceptor makes the attempts itself, and asks the budget before each
// retry.
//
// It takes over the retry policy rather than replacing its meaning: Policy
// has the fields of the service config's retryPolicy (maxAttempts,
// initialBackoff, maxBackoff, backoffMultiplier, retryableStatusCodes)
// with the same semantics, including the server's pushback
// (grpc-retry-pushback-ms: a valid value is the delay before the retry, a
// negative or invalid one, or one beyond what a time.Duration holds, about
// 292 years, stops retrying). So that retries do not double,
// each attempt carries grpc.MaxRetryRPCBufferSize(0): gRPC stops retrying a
// call once its replay buffer exceeds that size, which the first message
// does, so a retryPolicy in the service config does not retry the
// interceptor's attempts again, unbudgeted. gRPC's transparent retries of
// attempts refused before their request was written stay on and cost no
// budget: they add no load on a backend. Moving the retryPolicy from the
// service config into Policy (or dialling with grpc.WithDisableRetry())
// still makes the intent plain.
//
// Policy applies to every unary method of the channel, those the service
// config gives no retryPolicy included. Where methods differ (a
// non-idempotent method must not be retried), WithServiceConfigPolicy
// retries each call as its method's retryPolicy in the service config
// says, and a method with none not at all: the service config keeps
// deciding what is retried, and the budget how much.
//
// Streams are not retried (replaying a stream's messages is gRPC's job,
// and a budget cannot see its attempts, as above): a retryPolicy for
// streaming methods still retries them, outside the budget. But every kind
// of call makes the budget: the stream interceptor deposits a stream that
// ends well, so a client whose traffic is mostly streams still earns
// retries for its unary calls.
//
// A success is a call that reached a backend and ended with a status not in
// the policy's retryable codes: the backend answered it (codes such as
// NotFound included). Calls refused or cancelled on this side deposit
// nothing, and an attempt that never reached a backend is not retried, so
// put breaker or throttling interceptors inside this one (after it in
// grpc.WithChainUnaryInterceptor): each retry then goes through them as the
// SRE book counts it, and their refusals are not retried.
//
// Deposits are lock-free and allocation-free (a ring of epoch-tagged atomic
// counters); a retry takes the budget's mutex briefly, so that retries in
// the window never exceed the budget, however many goroutines retry at
// once.
package retrybudget
