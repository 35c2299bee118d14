package httplimit_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdminHandler(t *testing.T) {
	l, _ := newLimiter(t, plansOptions()...)
	h, mux := newServer(l)
	mux.Handle("/admin/ratelimit/", http.StripPrefix("/admin/ratelimit", l.AdminHandler()))
	admin := func(method, target string) (int, map[string]any) {
		t.Helper()
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(method, target, nil))
		var body map[string]any
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
		assert.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
		return w.Code, body
	}

	assert.Equal(t, []int{200, 200}, statuses(h, asPlan("192.0.2.1:1", "pro"), 2))
	code, body := admin(http.MethodGet, "/admin/ratelimit/peek?key=192.0.2.1&policy=pro")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, map[string]any{"policy": "pro", "key": "192.0.2.1", "allowed": true, "blocked": false, "source": "memory",
		"limit": "5/minute", "remaining": 3.0, "reset_seconds": 60.0, "retry_after_seconds": 0.0}, body)

	code, _ = admin(http.MethodPost, "/admin/ratelimit/block?key=192.0.2.1&policy=pro&duration=10m")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, http.StatusTooManyRequests, serve(h, asPlan("192.0.2.1:1", "pro")).Code, "blocked")
	_, body = admin(http.MethodGet, "/admin/ratelimit/peek?key=192.0.2.1&policy=pro")
	assert.Equal(t, true, body["blocked"])
	assert.Equal(t, 600.0, body["retry_after_seconds"])
	code, _ = admin(http.MethodPost, "/admin/ratelimit/unblock?key=192.0.2.1&policy=pro")
	assert.Equal(t, http.StatusOK, code)
	code, body = admin(http.MethodPost, "/admin/ratelimit/reset?key=192.0.2.1&policy=pro")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, map[string]any{"ok": true, "policy": "pro", "key": "192.0.2.1"}, body)
	_, body = admin(http.MethodGet, "/admin/ratelimit/peek?key=192.0.2.1")
	assert.Equal(t, map[string]any{"policy": "free", "key": "192.0.2.1", "allowed": true, "blocked": false, "source": "memory",
		"limit": "3/minute", "remaining": 3.0, "reset_seconds": 60.0, "retry_after_seconds": 0.0}, body, "the reset count, seen as free")

	for _, tt := range []struct {
		method, target string
		code           int
		err            string
	}{
		{http.MethodGet, "/admin/ratelimit/peek", 400, "the key parameter is missing"},
		{http.MethodGet, "/admin/ratelimit/peek?key=k&policy=gold", 404, "no policy is named gold"},
		{http.MethodGet, "/admin/ratelimit/reset?key=k", 405, "reset wants POST"},
		{http.MethodPost, "/admin/ratelimit/block?key=k&duration=forever", 400, "the duration parameter wants a Go duration from 1ms to 86400h, such as 15m"},
		{http.MethodPost, "/admin/ratelimit/block?key=k", 400, "the duration parameter wants a Go duration from 1ms to 86400h, such as 15m"},
		{http.MethodPost, "/admin/ratelimit/forget?key=k", 404, "unknown operation forget (want peek, reset, block or unblock)"},
	} {
		code, body := admin(tt.method, tt.target)
		assert.Equal(t, tt.code, code, tt.target)
		assert.Equal(t, map[string]any{"error": tt.err}, body, tt.target)
	}
}
