package ginlimit

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/internal/doccheck"
)

// The tests in this file fail when the docs drift from the code.

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestConfigurationDocumentsEveryOption(t *testing.T) {
	doccheck.OptionsDocumented(t, ".", "docs/CONFIGURATION.md")
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
