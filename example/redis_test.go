package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/internal/redistest"
)

// TestTwoInstancesShareOneLimit builds the example and runs it twice, on two
// ports, as two instances of a service with REDIS_URL set: they share one
// limit, and both report the Redis backend.
func TestTwoInstancesShareOneLimit(t *testing.T) {
	srv := redistest.Start(t)
	bin := filepath.Join(t.TempDir(), "example")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	var bases []string
	for range 2 {
		port := freePort(t)
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "PORT="+port, "REDIS_URL="+srv.URL(), "RATELIMIT_DEFAULT=3/minute")
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-exited:
				assert.NoError(t, err, "the instance exits cleanly on SIGTERM")
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
				t.Error("the instance did not stop on SIGTERM")
			}
		})
		bases = append(bases, "http://127.0.0.1:"+port)
	}
	for _, base := range bases {
		require.Eventually(t, func() bool {
			resp, err := http.Get(base + "/health/ratelimit")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			var status struct {
				Backend string `json:"backend"`
			}
			return json.NewDecoder(resp.Body).Decode(&status) == nil && status.Backend == "redis"
		}, 10*time.Second, 20*time.Millisecond, "%s reports the Redis backend", base)
	}

	var codes []int
	for i := range 5 {
		resp, err := http.Get(bases[i%2] + "/")
		require.NoError(t, err)
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	assert.Equal(t, []int{200, 200, 200, 429, 429}, codes, "3/minute across both instances")
	http.DefaultClient.CloseIdleConnections()
}
