package resolver_test

import (
	"fmt"
	"os"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

func ExampleSnapshot() {
	dir, err := os.MkdirTemp("", "snapshots")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	snap, err := kitresolver.NewSnapshot(dir, "etcd:/services/greeter/")
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, _, err := snap.Load(); err != nil {
		fmt.Println("first start: no snapshot yet")
	}
	err = snap.Save([]kitresolver.Instance{
		{Service: "greeter", ID: "b", Addr: "10.0.0.8:50051"},
		{Service: "greeter", ID: "a", Addr: "10.0.0.7:50051", Weight: 3},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	insts, _, err := snap.Load()
	for _, inst := range insts {
		fmt.Println(inst, inst.EffectiveWeight())
	}
	fmt.Println(err)
	// Output:
	// first start: no snapshot yet
	// greeter/a@"10.0.0.7:50051" 3
	// greeter/b@"10.0.0.8:50051" 1
	// <nil>
}
