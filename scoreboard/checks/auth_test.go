package checks

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRequireToken: a checker behind RequireToken serves only requests
// with its token, and a client with WithToken sends it on every request.
func TestRequireToken(t *testing.T) {
	token := CallerToken("secret")
	if token == CallerToken("other") || strings.Contains(token, "secret") || len(token) != 64 {
		t.Fatalf("token %q", token)
	}
	ch := &canned{res: TaskResult{Result: OK}, info: ServiceInfo{ServiceName: "s", FlagVariants: 1}}
	hs := httptest.NewServer(RequireToken(token, NewHandler(ch, nil)))
	t.Cleanup(hs.Close)

	task := `{"taskId":1,"method":"havoc","address":"10.0.1.10","taskChainId":"havoc_s0_r1_t1_i0","timeout":5000}`
	for _, auth := range []string{"", "Bearer", "Bearer wrong", "Basic " + token, "Bearer " + token + "x", token} {
		for _, req := range []*http.Request{
			httptest.NewRequest(http.MethodGet, hs.URL+"/service", nil),
			httptest.NewRequest(http.MethodPost, hs.URL+"/", strings.NewReader(task)),
		} {
			req.RequestURI = ""
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := hs.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s with %q: %d", req.Method, req.URL.Path, auth, resp.StatusCode)
			}
		}
	}
	if len(ch.got) != 0 {
		t.Fatalf("unauthenticated requests reached the checker: %v", ch.got)
	}

	c := NewClient(hs.URL, hs.Client(), WithToken(token))
	if info, err := c.Info(t.Context()); err != nil || info.ServiceName != "s" {
		t.Fatalf("info with the token: %+v %v", info, err)
	}
	if res, err := c.Run(t.Context(), Task{Method: Havoc, Address: "10.0.1.10", TaskChainID: "havoc_s0_r1_t1_i0", Timeout: 5000}); err != nil || res.Result != OK {
		t.Fatalf("task with the token: %+v %v", res, err)
	}
	// The scheme is case-insensitive.
	req, _ := http.NewRequest(http.MethodGet, hs.URL+"/service", nil)
	req.Header.Set("Authorization", "bearer "+token)
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("lower-case scheme: %d", resp.StatusCode)
	}
	// Without a token configured, nothing is served.
	closed := httptest.NewServer(RequireToken("", NewHandler(ch, nil)))
	t.Cleanup(closed.Close)
	if _, err := NewClient(closed.URL, closed.Client(), WithToken("")).Info(t.Context()); err == nil {
		t.Error("a checker with no token served a request")
	}
}
