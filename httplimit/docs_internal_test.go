package httplimit

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

func TestConfigurationDocumentsEveryVariable(t *testing.T) {
	doc := readDoc(t, "../docs/CONFIGURATION.md")
	require.NotEmpty(t, envVars)
	for _, name := range envVars {
		assert.True(t, strings.Contains(doc, "`"+name+"`"), "docs/CONFIGURATION.md does not document %s", name)
	}
}

func TestConfigurationDocumentsEveryOption(t *testing.T) {
	doccheck.OptionsDocumented(t, ".", "../docs/CONFIGURATION.md")
}
