package checks

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// A checker holds what opens the replicas (cyrange's built-in ones derive
// master passwords from the checker secret), so it serves only its engine:
// every request carries Authorization: Bearer TOKEN. cyrange's engine and
// built-in checkers share the token CallerToken derives from the checker
// secret; another engine is given the token its checker expects.

// CallerToken is the bearer token the game sends to the checkers that
// share its checker secret: an HMAC of a fixed label under the secret, so
// that the token does not reveal the secret.
func CallerToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("cyrange-checker-caller"))
	return hex.EncodeToString(m.Sum(nil))
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithToken makes the client send token as a bearer token on every
// request.
func WithToken(token string) ClientOption {
	return func(c *Client) { c.token = token }
}

// RequireToken serves next only to requests with the bearer token token;
// any other request gets 401 and reaches nothing. An empty token refuses
// every request.
func RequireToken(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		// The scheme is case-insensitive (RFC 9110); the token is not.
		if scheme, rest, ok := strings.Cut(got, " "); ok && strings.EqualFold(scheme, "bearer") {
			got = "Bearer " + rest
		}
		if token == "" || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="checker"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
