package dockerapi

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"

	cyberrange "github.com/cyrange/cyrange/range"
)

// UnixNano formats t as the API's since/until parameters take it.
func UnixNano(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// OpenLogs opens a log stream with open, bounding the opening, not the
// stream, by timeout, and returns the stream split into plain bytes (the
// range's containers have no TTY, so the engine multiplexes stdout and
// stderr). The stream lasts until ctx is done or the reader is closed.
// A stream that does not open within timeout is an error wrapping
// cyberrange.ErrUnavailable; open's own error is returned as it is, for
// the driver to wrap.
func OpenLogs(ctx context.Context, timeout time.Duration, open func(context.Context) (io.ReadCloser, error)) (io.ReadCloser, error) {
	lctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(timeout, cancel)
	rc, err := open(lctx)
	fired := !timer.Stop()
	if err != nil || fired {
		if rc != nil {
			rc.Close()
		}
		cancel()
		if err == nil {
			err = fmt.Errorf("%w: no answer within %v", cyberrange.ErrUnavailable, timeout)
		}
		return nil, err
	}
	return Demux(rc, cancel), nil
}

// Demux splits the engine's multiplexed log stream rc into plain bytes,
// stdout and stderr interleaved as written. Closing the reader calls
// cancel, closes rc and waits for the copy to stop, so that no goroutine
// outlives it.
func Demux(rc io.ReadCloser, cancel context.CancelFunc) io.ReadCloser {
	pr, pw := io.Pipe()
	l := &logReader{pr: pr, rc: rc, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		_, err := stdcopy.StdCopy(pw, pw, rc)
		if err == nil {
			err = io.EOF
		}
		pw.CloseWithError(err)
	}()
	return l
}

type logReader struct {
	pr     *io.PipeReader
	rc     io.ReadCloser
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func (l *logReader) Read(p []byte) (int, error) { return l.pr.Read(p) }

// Close ends the stream and waits for its copier to stop. It may be
// called more than once.
func (l *logReader) Close() error {
	l.once.Do(func() {
		l.cancel()
		l.rc.Close()
		l.pr.Close()
		<-l.done
	})
	return nil
}
