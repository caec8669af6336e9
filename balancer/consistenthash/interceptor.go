package consistenthash

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// missingKeyMsg is the message of the picker's error for a request without a
// key under missingKey "fail".
const missingKeyMsg = "consistenthash: request has no hash key (set one with consistenthash.WithKey or the configured header)"

// grpc-go turns a picker's InvalidArgument into Internal (gRFC A54 reserves
// that code for the application), keeping the message. The interceptors below
// restore InvalidArgument for the missing-key error.

// UnaryClientInterceptor makes a request refused for lack of a key (missingKey
// "fail") end with codes.InvalidArgument rather than the Internal that grpc-go
// reports for picker errors with that code.
func UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return restoreMissingKey(invoker(ctx, method, req, reply, cc, opts...))
	}
}

// StreamClientInterceptor is UnaryClientInterceptor for streams.
func StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		return s, restoreMissingKey(err)
	}
}

func restoreMissingKey(err error) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok && st.Code() == codes.Internal && strings.Contains(st.Message(), missingKeyMsg) {
		return status.Error(codes.InvalidArgument, missingKeyMsg)
	}
	return err
}
