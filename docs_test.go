package ginlimit

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

// The tests in this file fail when the docs drift from the code.

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestConfigurationDocumentsEveryOption(t *testing.T) {
	doc := readDoc(t, "docs/CONFIGURATION.md")
	options := exportedOptions(t)
	require.Contains(t, options, "WithRedisURL", "the options are found")
	for _, name := range options {
		mention := regexp.MustCompile("`" + name + "[(`]")
		assert.True(t, mention.MatchString(doc), "docs/CONFIGURATION.md does not document %s", name)
	}
}

// exportedOptions returns the names of the package's exported functions
// that return an Option.
func exportedOptions(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
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

// TestReadmeSnippetIsExample checks that the README's usage snippet is the
// code of Example_readme, which compiles and runs with the tests.
func TestReadmeSnippetIsExample(t *testing.T) {
	readme := readDoc(t, "README.md")
	_, use, ok := strings.Cut(readme, "\n## Use\n")
	require.True(t, ok, "README.md has a Use section")
	_, snippet, ok := strings.Cut(use, "```go\n")
	require.True(t, ok, "the Use section has a Go snippet")
	snippet, _, ok = strings.Cut(snippet, "```")
	require.True(t, ok)

	examples := readDoc(t, "example_test.go")
	_, body, ok := strings.Cut(examples, "func Example_readme() {\n")
	require.True(t, ok, "example_test.go has Example_readme")
	var code []string
	for _, line := range strings.Split(body, "\n") {
		if line == "}" {
			break
		}
		code = append(code, strings.TrimPrefix(line, "\t"))
	}
	assert.True(t, strings.Contains(strings.Join(code, "\n"), strings.TrimSpace(snippet)),
		"the README's Use snippet differs from Example_readme in example_test.go:\n%s", snippet)
}
