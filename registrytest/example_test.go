package registrytest_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/grpckit/grpckit/registrytest"
)

// Start a single embedded etcd member, write a key and read it back. In a test,
// StartEtcd(t) does the same and stops the member at cleanup.
func ExampleNewEtcdCluster() {
	dir, _ := os.MkdirTemp("", "etcd")
	defer os.RemoveAll(dir)
	cluster, err := registrytest.NewEtcdCluster(dir, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	cli, _ := cluster.NewClient()
	defer cli.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli.Put(ctx, "/services/greeter/a", "127.0.0.1:50051")
	resp, _ := cli.Get(ctx, "/services/greeter/a")
	fmt.Println(string(resp.Kvs[0].Value))
	// Output: 127.0.0.1:50051
}
