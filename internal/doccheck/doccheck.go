// Package doccheck holds the checks, shared by the tests of ginlimit and
// httplimit, that fail when the docs drift from the code.
package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// OptionsDocumented checks that the doc at docPath mentions, as `Name(` or
// `Name`, every exported function of the package in dir that returns an
// Option.
func OptionsDocumented(t *testing.T, dir, docPath string) {
	t.Helper()
	b, err := os.ReadFile(docPath)
	require.NoError(t, err)
	doc := string(b)
	options := exportedOptions(t, dir)
	require.Contains(t, options, "WithRedisURL", "the options are found")
	for _, name := range options {
		mention := regexp.MustCompile("`" + name + "[(`]")
		assert.True(t, mention.MatchString(doc), "%s does not document %s", strings.TrimLeft(docPath, "./"), name)
	}
}

// exportedOptions returns the names of the exported functions of the
// package in dir that return an Option.
func exportedOptions(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	var names []string
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !fn.Name.IsExported() || fn.Type.Results == nil || len(fn.Type.Results.List) != 1 {
				continue
			}
			if id, ok := fn.Type.Results.List[0].Type.(*ast.Ident); ok && id.Name == "Option" {
				names = append(names, fn.Name.Name)
			}
		}
	}
	return names
}
