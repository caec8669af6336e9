package debugz_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"

	"github.com/grpckit/grpckit/debugz"
	"github.com/grpckit/grpckit/interceptor/ratelimit"
)

func Example() {
	page := debugz.New()
	tb, err := ratelimit.NewTokenBucket(1, 2) // 1 call per second, bursts of 2
	if err != nil {
		panic(err)
	}
	limiter := page.Limiter("server", tb) // pass limiter to the interceptors
	for range 5 {
		limiter.Reserve("/greeter.v1.Greeter/SayHello", 0)
	}

	// Mount page on an operators' address: http.Handle("/debugz", page).
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest("GET", "/debugz?format=json", nil))
	var rep debugz.Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		panic(err)
	}
	l := rep.Limiters[0]
	fmt.Printf("%s: %d admitted, %d rejected, most by %s\n", l.Name, l.Admitted, l.Rejected, l.TopKeys[0].Key)
	// Output: server: 2 admitted, 3 rejected, most by /greeter.v1.Greeter/SayHello
}
