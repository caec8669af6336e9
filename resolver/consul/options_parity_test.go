package consul_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// optionKinds are the option types both registry packages declare: an
// option for NewBuilder, for Register, or for both.
var optionKinds = map[string]bool{"Option": true, "RegisterOption": true, "CommonOption": true}

// optionFuncs returns the exported With* functions of the package in dir,
// each with the name of the type it returns, and its exported option types
// (those named in optionKinds), each with whether it is an interface.
func optionFuncs(t *testing.T, dir string) (funcs map[string]string, types map[string]bool) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	funcs, types = map[string]string{}, map[string]bool{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.IsExported() && strings.HasPrefix(fd.Name.Name, "With") {
				funcs[fd.Name.Name] = resultType(fd)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok && optionKinds[ts.Name.Name] {
				_, types[ts.Name.Name] = ts.Type.(*ast.InterfaceType)
			}
			return true
		})
	}
	return funcs, types
}

// resultType is the name of fd's one result type, "" if it has another shape.
func resultType(fd *ast.FuncDecl) string {
	if r := fd.Type.Results; r != nil && len(r.List) == 1 {
		if id, ok := r.List[0].Type.(*ast.Ident); ok {
			return id.Name
		}
	}
	return ""
}

// TestOptionsShareStyleAndNames holds the two registry packages to one option
// style and one name per concept: every option returns Option (NewBuilder),
// RegisterOption (Register) or CommonOption (both); an option both packages
// have is of the same kind in both; no name says which side it is for (the
// type does); and the concepts both have are spelled the same.
func TestOptionsShareStyleAndNames(t *testing.T) {
	pkgs := map[string]map[string]string{}
	for pkg, dir := range map[string]string{"consul": ".", "etcd": "../etcd"} {
		funcs, types := optionFuncs(t, dir)
		pkgs[pkg] = funcs
		for kind := range optionKinds {
			if iface, ok := types[kind]; !ok || !iface {
				t.Errorf("%s.%s: declared %v, an interface %v; want an interface, so one option can serve NewBuilder and Register", pkg, kind, ok, iface)
			}
		}
	}
	for pkg, funcs := range pkgs {
		if len(funcs) < 5 {
			t.Fatalf("found only %d options in %s: %v", len(funcs), pkg, funcs)
		}
		for name, kind := range funcs {
			if !optionKinds[kind] {
				t.Errorf("%s.%s returns %q, want Option, RegisterOption or CommonOption", pkg, name, kind)
			}
			if strings.HasPrefix(name, "WithRegister") || strings.HasPrefix(name, "WithBuilder") || strings.HasPrefix(name, "WithResolver") {
				t.Errorf("%s.%s: the name says which side the option is for; its type says it", pkg, name)
			}
		}
	}
	for name, kind := range pkgs["consul"] {
		if other, ok := pkgs["etcd"][name]; ok && other != kind {
			t.Errorf("%s is a %s in consul but a %s in etcd", name, kind, other)
		}
	}
	for _, want := range []struct{ name, kind string }{
		{"WithBackoff", "CommonOption"},
		{"WithRequestTimeout", "CommonOption"},
		{"WithSnapshotDir", "Option"},
		{"WithSnapshotMaxAge", "Option"},
	} {
		for pkg, funcs := range pkgs {
			if got := funcs[want.name]; got != want.kind {
				t.Errorf("%s.%s returns %q, want %s", pkg, want.name, got, want.kind)
			}
		}
	}
}

// TestCommonOptionsServeBothSides: one list of CommonOptions configures the
// resolver and the registrar, and an invalid one fails both at construction
// with the same error naming it, which is the error etcd gives for the same
// option with the same value.
func TestCommonOptionsServeBothSides(t *testing.T) {
	inst := kitresolver.Instance{Service: "s", Addr: "127.0.0.1:1"}
	for _, tt := range []struct {
		opt     consul.CommonOption
		etcdOpt etcd.CommonOption
		wantErr string
	}{
		{consul.WithRequestTimeout(0), etcd.WithRequestTimeout(0), "WithRequestTimeout(0s): want > 0"},
		{consul.WithRequestTimeout(-time.Second), etcd.WithRequestTimeout(-time.Second), "WithRequestTimeout(-1s): want > 0"},
		{consul.WithBackoff(kitresolver.Backoff{}), etcd.WithBackoff(kitresolver.Backoff{}), "WithBackoff: backoff base 0s and max 0s"},
	} {
		common := []consul.CommonOption{consul.WithBackoff(kitresolver.DefaultBackoff), tt.opt}
		var bopts []consul.Option
		var ropts []consul.RegisterOption
		for _, o := range common {
			bopts = append(bopts, o)
			ropts = append(ropts, o)
		}
		_, err := consul.NewBuilder(bopts...).Build(resolver.Target{}, nil, resolver.BuildOptions{})
		if err == nil || !strings.HasPrefix(err.Error(), "consul: "+tt.wantErr) {
			t.Errorf("Build = %v, want an error starting consul: %s", err, tt.wantErr)
		}
		// Both Registers refuse the options before they use the client.
		_, err = consul.Register(t.Context(), nil, inst, ropts...)
		if err == nil || !strings.HasPrefix(err.Error(), "consul: "+tt.wantErr) {
			t.Fatalf("consul.Register = %v, want an error starting consul: %s", err, tt.wantErr)
		}
		_, etcdErr := etcd.Register(t.Context(), nil, inst, tt.etcdOpt)
		if etcdErr == nil || strings.TrimPrefix(etcdErr.Error(), "etcd: ") != strings.TrimPrefix(err.Error(), "consul: ") {
			t.Errorf("the same bad option: etcd.Register = %v, consul.Register = %v; want one error but for the package name", etcdErr, err)
		}
	}
}
