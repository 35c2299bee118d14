package httplimit

import (
	"encoding/json"
	"errors"
	"net/http"
	"path"
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

// AdminHandler returns an http.Handler that reads and changes clients'
// counts as JSON, for a support desk or an operator's tools:
//
//	GET  .../peek?key=K[&policy=P]                  Peek
//	POST .../reset?key=K[&policy=P]                 Reset
//	POST .../block?key=K&duration=D[&policy=P]      Block, D a Go duration ("15m")
//	POST .../unblock?key=K[&policy=P]               Unblock
//
// The operation is the last element of the path, so the handler serves
// whatever prefix it is mounted under. policy names a policy declared with
// WithPolicy, or the Limiter's own (the default); key is the client key as
// the Limiter counts it (an IP address, or what a key option returns).
//
// WARNING: it lets whoever reaches it reset and block any client. It is
// never registered by default: mount it behind your own authentication,
// never on a public route.
//
//	mux.Handle("/admin/ratelimit/", requireAdmin(http.StripPrefix("/admin/ratelimit", lim.AdminHandler())))
//
// A bad request is answered 400, an unknown policy 404, an unknown
// operation 404, a wrong method 405, a custom backend that cannot change
// counts (ErrNoControl) 501, and a backend that failed 502, each with
// {"error": "..."}.
func (l *Limiter) AdminHandler() http.Handler {
	return http.HandlerFunc(l.serveAdmin)
}

// adminPeek is the body of a peek.
type adminPeek struct {
	Policy       string  `json:"policy"`
	Key          string  `json:"key"`
	Allowed      bool    `json:"allowed"`
	Blocked      bool    `json:"blocked"`
	Source       Source  `json:"source"`
	Limit        string  `json:"limit,omitempty"`
	Remaining    int64   `json:"remaining"`
	ResetSeconds float64 `json:"reset_seconds"`
	RetryAfter   float64 `json:"retry_after_seconds"`
}

func (l *Limiter) serveAdmin(w http.ResponseWriter, r *http.Request) {
	op := path.Base(r.URL.Path)
	want := http.MethodPost
	if op == "peek" {
		want = http.MethodGet
	}
	switch op {
	case "peek", "reset", "block", "unblock":
	default:
		adminError(w, http.StatusNotFound, "unknown operation "+op+" (want peek, reset, block or unblock)")
		return
	}
	if r.Method != want {
		w.Header().Set("Allow", want)
		adminError(w, http.StatusMethodNotAllowed, op+" wants "+want)
		return
	}
	q := r.URL.Query()
	key := q.Get("key")
	if key == "" {
		adminError(w, http.StatusBadRequest, "the key parameter is missing")
		return
	}
	name := q.Get("policy")
	p := l.def
	if name != "" {
		var ok bool
		if p, ok = l.policyNamed(name); !ok {
			adminError(w, http.StatusNotFound, "no policy is named "+name)
			return
		}
	}
	var err error
	switch op {
	case "peek":
		d := l.Peek(r.Context(), p, key)
		body := adminPeek{Policy: d.Policy, Key: d.Key, Allowed: d.Allowed, Blocked: d.Blocked, Source: d.Source,
			Remaining: d.Remaining, ResetSeconds: d.Reset.Seconds(), RetryAfter: d.RetryAfter.Seconds()}
		if d.Limit != (backend.Limit{}) {
			body.Limit = d.Limit.String()
		}
		writeJSON(w, http.StatusOK, body)
		return
	case "reset":
		err = l.Reset(r.Context(), p, key)
	case "unblock":
		err = l.Unblock(r.Context(), p, key)
	case "block":
		d, perr := time.ParseDuration(q.Get("duration"))
		if perr != nil || d <= 0 || d > backend.MaxPeriod {
			adminError(w, http.StatusBadRequest, "the duration parameter wants a Go duration from 1ms to 86400h, such as 15m")
			return
		}
		err = l.Block(r.Context(), p, key, d)
	}
	if err != nil {
		code := http.StatusBadGateway
		if errors.Is(err, ErrNoControl) {
			code = http.StatusNotImplemented
		}
		adminError(w, code, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "policy": p.scope.name, "key": boundKey(key)})
}

func adminError(w http.ResponseWriter, code int, message string) {
	writeJSON(w, code, map[string]string{"error": message})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
