package webclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// countingDialer proves requests go through the caller's dialer.
type countingDialer struct {
	n atomic.Int32
	d net.Dialer
}

func (c *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c.n.Add(1)
	return c.d.DialContext(ctx, network, addr)
}

func TestErrorsAndDialer(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/webmail/api/message", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("id") {
		case "1":
			w.WriteHeader(http.StatusUnauthorized)
		case "2":
			w.WriteHeader(http.StatusForbidden)
		case "3":
			w.WriteHeader(http.StatusNotFound)
		case "4":
			http.Error(w, "boom", http.StatusInternalServerError)
		default:
			_, _ = w.Write([]byte(`{"id":5,"subject":"V/v"}`))
		}
	})
	mux.HandleFunc("/huongdan", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`<p>3. Tài khoản mới được cấp với mật khẩu khởi tạo: <b>Lachong@123</b>. Đề nghị</p>`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	d := &countingDialer{}
	c := New(srv.URL, d)
	defer c.Close()
	ctx := context.Background()
	for id, want := range map[int64]error{1: ErrUnauthorized, 2: ErrLocked, 3: ErrNotFound} {
		if _, err := c.Message(ctx, id); !errors.Is(err, want) {
			t.Errorf("id %d: %v", id, err)
		}
	}
	var se *StatusError
	if _, err := c.Message(ctx, 4); !errors.As(err, &se) || se.Code != 500 {
		t.Errorf("500: %v", err)
	}
	if m, err := c.Message(ctx, 5); err != nil || m.Subject != "V/v" {
		t.Errorf("ok: %+v %v", m, err)
	}
	if pw, err := c.InitialPassword(ctx); err != nil || pw != "Lachong@123" {
		t.Errorf("initial password %q %v", pw, err)
	}
	if d.n.Load() == 0 {
		t.Error("the dialer was not used")
	}
}
