package ginlimit

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGoDirectiveIsWhatDependenciesNeed checks that go.mod asks no more of a
// user's module than ginlimit's dependencies do: a go directive above theirs
// would force every module that imports ginlimit up to it. The directive is
// also the language level the code is built with, and go vet's stdversion
// check refuses any use of the standard library newer than it.
func TestGoDirectiveIsWhatDependenciesNeed(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	require.NotNil(t, m, "go.mod has a go directive")
	have := string(m[1])

	out, err := exec.Command("go", "list", "-m", "-f", "{{if not .Main}}{{.Path}} {{.GoVersion}}{{end}}", "all").Output()
	require.NoError(t, err, "go list -m all")
	need, by := "", ""
	for line := range strings.Lines(string(out)) {
		path, version, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && compareGoVersions(version, need) > 0 {
			need, by = version, path
		}
	}
	require.NotEmpty(t, need, "the dependencies declare go versions")
	assert.Zero(t, compareGoVersions(have, need), "go.mod says go %s; the highest a dependency declares is %s, %s's", have, need, by)
}

// compareGoVersions compares Go versions such as "1.25" and "1.25.0"
// number by number; a missing number counts as 0.
func compareGoVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		x, y := versionPart(as, i), versionPart(bs, i)
		if x != y {
			return x - y
		}
	}
	return 0
}

func versionPart(parts []string, i int) int {
	if i >= len(parts) {
		return 0
	}
	n := 0
	for _, c := range parts[i] {
		if c < '0' || c > '9' {
			break // a pre-release suffix, such as "rc1"
		}
		n = n*10 + int(c-'0')
	}
	return n
}
