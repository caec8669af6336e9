// Package readmetest keeps the README's Go snippets compiling and working.
//
// Its tests extract every fenced go block of the repository's README.md, each
// preceded by a marker naming it,
//
//	<!-- snippet: etcd-server -->
//
// vet and build each as a main package of this module (in a temporary
// directory under testdata, which ./... patterns skip, removed afterwards),
// check the patterns a reader copies (a load-balancing config on every client,
// a bounded Deregister, grpc.health.v1 served, the registry left before
// GracefulStop), and run the servers and clients against real registries
// (registrytest): a snippet that stops compiling, or stops doing what the
// README says, fails `make test`. A snippet is a whole file, so what a reader
// copies is what was built. Compiler and vet errors name README.md lines.
package readmetest
