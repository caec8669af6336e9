// Package readmetest keeps the README's Go snippets compiling and working.
//
// Its tests extract every fenced go block of the repository's README.md, each
// preceded by a marker naming it,
//
//	<!-- snippet: etcd-server -->
//
// build each as a main package of this module (through go build -overlay, so
// nothing is written into the tree), and run the servers and clients against
// real registries (registrytest): a snippet that stops compiling, or stops
// doing what the README says, fails `make test`. A snippet is a whole file,
// so what a reader copies is what was built. Compiler errors name README.md
// lines.
package readmetest
