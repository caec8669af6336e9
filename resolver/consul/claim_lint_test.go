package consul_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryRegistrationClaimsItsID: every function of the package's tests
// that registers a service with an agent (consul.Register, or the agent
// API's ServiceRegister) claims the service ID with claimID, itself or
// through a function that does (startBackend, registerPlain, registerGen).
// A Consul service ID belongs to the agent, not to a service, and the tests
// share one agent and run in parallel: two tests registering the same ID
// replace each other's registration, and one's channels are left with
// nothing to pick (as TestIdleTimeout's i1 once did to
// TestSharedWatchIdleChannel's). claimID turns such a collision into a
// failure that names both tests, but only where it is called. Examples and
// benchmarks run after the tests and are left out, as is a Register with a
// nil client, which registers nothing.
func TestEveryRegistrationClaimsItsID(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var funcs []*ast.FuncDecl
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name.Name != "consul_test" {
			continue // white-box tests register with fakes, not with an agent
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Body != nil && fn.Recv == nil {
				funcs = append(funcs, fn)
			}
		}
	}
	// The functions that claim, directly or through one another.
	claiming := map[string]bool{"claimID": true}
	for changed := true; changed; {
		changed = false
		for _, fn := range funcs {
			if !claiming[fn.Name.Name] && calls(fn, claiming) {
				claiming[fn.Name.Name], changed = true, true
			}
		}
	}
	for _, fn := range funcs {
		if claiming[fn.Name.Name] || strings.HasPrefix(fn.Name.Name, "Example") || takesB(fn) {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && registers(call) {
				t.Errorf("%s: %s registers a service without claiming its ID: call claimID(t, cli, id) first, or register through startBackend, registerPlain or registerGen", fset.Position(call.Pos()), fn.Name.Name)
			}
			return true
		})
	}
}

// calls reports whether fn calls one of the functions named in names.
func calls(fn *ast.FuncDecl, names map[string]bool) bool {
	found := false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if id, ok := call.Fun.(*ast.Ident); ok && names[id.Name] {
				found = true
			}
		}
		return !found
	})
	return found
}

// registers reports whether call registers a service with an agent.
func registers(call *ast.CallExpr) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "consul" && sel.Sel.Name == "Register" {
		nilClient := len(call.Args) > 1 && isNil(call.Args[1])
		return !nilClient
	}
	return sel.Sel.Name == "ServiceRegister" || sel.Sel.Name == "ServiceRegisterOpts"
}

func isNil(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "nil"
}

// takesB reports whether fn is a benchmark or a benchmark's helper.
func takesB(fn *ast.FuncDecl) bool {
	for _, p := range fn.Type.Params.List {
		if star, ok := p.Type.(*ast.StarExpr); ok {
			if sel, ok := star.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "B" {
				return true
			}
		}
	}
	return false
}
