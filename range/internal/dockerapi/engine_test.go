package dockerapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/network"
	"go.uber.org/goleak"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/internal/dockerapi/dockerapitest"
)

func TestFail(t *testing.T) {
	tests := []struct {
		desc string
		err  error
		want error
		text string
	}{
		{"not found", cerrdefs.ErrNotFound.WithMessage("gone"), cyberrange.ErrNotFound, "swarm: inspect n1: " + cyberrange.ErrNotFound.Error() + ": gone"},
		{"unavailable", cerrdefs.ErrUnavailable.WithMessage("down"), cyberrange.ErrUnavailable, ""},
		{"invalid", cerrdefs.ErrInvalidArgument.WithMessage("bad"), cyberrange.ErrInvalid, ""},
		{"other", errors.New("odd"), nil, "swarm: inspect n1: odd"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := Fail("swarm", "inspect", "n1", tt.err)
			if !errors.Is(err, tt.err) || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("%v does not wrap %v and %v", err, tt.err, tt.want)
			}
			if tt.text != "" && err.Error() != tt.text {
				t.Errorf("%q, want %q", err, tt.text)
			}
		})
	}
}

func TestCheckNetwork(t *testing.T) {
	n := cyberrange.Network{Name: "n1", Subnet: netip.MustParsePrefix("10.1.2.0/24"), Labels: map[string]string{cyberrange.LabelExercise: "ex"}}
	got := func(ex, sub string) network.Inspect {
		var i network.Inspect
		i.Labels = map[string]string{cyberrange.LabelExercise: ex}
		if sub != "" {
			i.IPAM.Config = []network.IPAMConfig{{Subnet: netip.MustParsePrefix(sub)}}
		}
		return i
	}
	if err := CheckNetwork(got("ex", "10.1.2.0/24"), n); err != nil {
		t.Errorf("as planned: %v", err)
	}
	for _, g := range []network.Inspect{got("other", "10.1.2.0/24"), got("ex", "10.1.3.0/24"), got("ex", "")} {
		if err := CheckNetwork(g, n); !errors.Is(err, cyberrange.ErrInvalid) {
			t.Errorf("%+v: %v", g, err)
		}
	}
}

func TestOpenLogs(t *testing.T) {
	defer goleak.VerifyNone(t)
	var mux bytes.Buffer
	dockerapitest.Frame(&mux, stdcopy.Stdout, "out\n")
	dockerapitest.Frame(&mux, stdcopy.Stderr, "err\n")
	rc, err := OpenLogs(t.Context(), time.Second, func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(&mux), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	if err != nil || string(b) != "out\nerr\n" {
		t.Errorf("%q, %v", b, err)
	}
	rc.Close()
	rc.Close() // twice is fine

	// An engine that does not answer in time: the opening is cancelled.
	_, err = OpenLogs(t.Context(), 10*time.Millisecond, func(ctx context.Context) (io.ReadCloser, error) {
		<-ctx.Done()
		return nil, nil
	})
	if !errors.Is(err, cyberrange.ErrUnavailable) || !strings.Contains(err.Error(), "no answer within") {
		t.Errorf("slow engine: %v", err)
	}
}
