package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/cyrange/cyrange/internal/firewall"
	"github.com/cyrange/cyrange/internal/persource"
)

// reqInfo is what a handler tells the request log about the request:
// who it served.
type reqInfo struct{ user string }

type infoKey struct{}

// setUser names the request's user in its log line.
func setUser(r *http.Request, user string) {
	if info, ok := r.Context().Value(infoKey{}).(*reqInfo); ok {
		info.user = user
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (w *statusRecorder) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(p []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ownNetwork reports whether addr is on the range's own networks (the
// admin console's allow-list: the replica's network and the checkers'),
// which no team's traffic comes from. The checker's ticks may run more
// tasks at once against one replica than a visitor's share of requests
// in flight, and a throttled checker would mark the defence down for the
// platform's own doing.
func (s *Server) ownNetwork(addr string) bool {
	return firewall.Contains(s.cfg.AdminAllow, firewall.Source(addr))
}

// front is what every request goes through: the per-source budget of
// requests in flight (on the public port, but for the range's own
// networks), the body bound, the vendor's
// headers, a recovered panic as a bare 500, and one log line with the
// source, the user and the status.
func (s *Server) front(proto string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Server", "VNPortal/3.2")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("X-Frame-Options", "SAMEORIGIN")
		if proto == "http" && !s.ownNetwork(r.RemoteAddr) {
			src := persource.Of(r.RemoteAddr)
			if !s.inflight.Acquire(src) {
				s.warn(proto, "throttled", r.RemoteAddr, "", "too many requests at once from one source", "method", r.Method, "path", r.URL.Path)
				http.Error(w, "Hệ thống đang bận, vui lòng thử lại sau.", http.StatusTooManyRequests)
				return
			}
			defer s.inflight.Release(src)
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.lim.UploadBytes)
		info := &reqInfo{}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.warn(proto, "error", r.RemoteAddr, info.user, "request failed", "method", r.Method, "path", r.URL.Path, "error", fmt.Sprint(p))
				if !rec.wrote {
					http.Error(rec, "Lỗi hệ thống.", http.StatusInternalServerError)
				}
			}
			path := r.URL.Path
			if len(path) > 512 {
				path = path[:512]
			}
			attrs := []any{"method", r.Method, "path", path, "status", rec.status, "bytes", rec.bytes, "agent", trim(r.UserAgent(), 200)}
			if q := r.URL.RawQuery; q != "" {
				attrs = append(attrs, "query", trim(q, 1024))
			}
			if rec.status >= 400 {
				s.warn(proto, "request", r.RemoteAddr, info.user, "request", attrs...)
			} else {
				s.event(proto, "request", r.RemoteAddr, info.user, "request", attrs...)
			}
		}()
		h.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
	})
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// parseForm reads a url-encoded form of at most FormBytes, or a
// multipart one of at most UploadBytes, held in memory.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) error {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		r.Body = http.MaxBytesReader(w, r.Body, s.lim.UploadBytes)
		return r.ParseMultipartForm(s.lim.UploadBytes)
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.lim.FormBytes)
	return r.ParseForm()
}

// upload is one file of a multipart form.
type upload struct {
	Name string
	MIME string
	Data []byte
}

// maxUploads bounds the files one form carries.
const maxUploads = 3

var errTooBig = fmt.Errorf("file too large")

// uploads reads the files of field, each at most FileBytes.
func (s *Server) uploads(r *http.Request, field string) ([]upload, error) {
	if r.MultipartForm == nil {
		return nil, nil
	}
	var out []upload
	for _, fh := range r.MultipartForm.File[field] {
		if len(out) >= maxUploads {
			break
		}
		if fh.Size > s.lim.FileBytes {
			return nil, errTooBig
		}
		data, err := readPart(fh, s.lim.FileBytes)
		if err != nil {
			return nil, err
		}
		if len(data) == 0 {
			continue
		}
		out = append(out, upload{Name: cleanFileName(fh.Filename), MIME: sniff(data), Data: data})
	}
	return out, nil
}

func readPart(fh *multipart.FileHeader, limit int64) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errTooBig
	}
	return data, nil
}

// cleanFileName keeps the base name of an uploaded file, without path
// separators or control characters, at most 120 bytes.
func cleanFileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > 120 {
		_, size := lastRune(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == ".." {
		name = "tep-dinh-kem"
	}
	return name
}

func lastRune(s string) (rune, int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i]&0xc0 != 0x80 {
			return rune(s[i]), len(s) - i
		}
	}
	return 0, 1
}

// sniff picks the content type served for an upload: only types a
// browser will not run as a page.
func sniff(data []byte) string {
	switch ct := http.DetectContentType(data); {
	case strings.HasPrefix(ct, "image/png"), strings.HasPrefix(ct, "image/jpeg"), strings.HasPrefix(ct, "image/gif"),
		strings.HasPrefix(ct, "application/pdf"), strings.HasPrefix(ct, "application/zip"):
		return ct
	}
	return "application/octet-stream"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// decodeJSON reads a bounded JSON body into v.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.lim.FormBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body")
	}
	return nil
}

// parseID reads a positive decimal row id.
func parseID(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 12 {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// parsePage reads a 1-based page number, defaulting to 1.
func parsePage(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 {
		return 1
	}
	return min(n, 10000)
}

// clip bounds a free-text field a visitor typed.
func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}
