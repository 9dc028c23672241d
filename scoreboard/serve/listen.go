package serve

import (
	"fmt"
	"net"
)

// Listeners are an exercise's bound addresses.
type Listeners struct {
	http, submit net.Listener
	// metrics is nil without Options.MetricsAddr.
	metrics net.Listener
}

// Listen binds o's web, submission and metrics addresses.
func Listen(o Options) (*Listeners, error) {
	var l Listeners
	var err error
	if l.http, err = net.Listen("tcp", o.HTTPAddr); err != nil {
		return nil, fmt.Errorf("serve: web listener: %w", err)
	}
	if l.submit, err = net.Listen("tcp", o.SubmitAddr); err != nil {
		l.Close()
		return nil, fmt.Errorf("serve: submission listener: %w", err)
	}
	if o.MetricsAddr != "" {
		if l.metrics, err = net.Listen("tcp", o.MetricsAddr); err != nil {
			l.Close()
			return nil, fmt.Errorf("serve: metrics listener: %w", err)
		}
	}
	return &l, nil
}

// Close closes every listener. Closing them again is harmless.
func (l *Listeners) Close() {
	for _, ln := range []net.Listener{l.http, l.submit, l.metrics} {
		if ln != nil {
			ln.Close()
		}
	}
}
