package greeterapp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// DebugPath is where ServeDebug serves the debug page.
const DebugPath = "/debugz"

// DebugServer serves a debug page (a debugz.Page) over HTTP.
type DebugServer struct {
	// URL is the page's address, http://<host:port>/debugz.
	URL  string
	srv  *http.Server
	done chan error
}

// ServeDebug serves page on addr (host:port; port 0 picks a free one) at
// DebugPath, "/" redirecting there. The page shows addresses, keys and
// errors of the process: listen on an address only operators reach, such as
// 127.0.0.1.
func ServeDebug(addr string, page http.Handler) (*DebugServer, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("greeterapp: debug page: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(DebugPath, page)
	mux.Handle("/{$}", http.RedirectHandler(DebugPath, http.StatusFound))
	d := &DebugServer{
		URL:  "http://" + lis.Addr().String() + DebugPath,
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan error, 1),
	}
	go func() { d.done <- d.srv.Serve(lis) }()
	return d, nil
}

// Close stops serving, waiting at most 5 seconds for requests in progress.
func (d *DebugServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := d.srv.Shutdown(ctx)
	if serr := <-d.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
