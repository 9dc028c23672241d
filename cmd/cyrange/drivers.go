package main

import (
	"context"
	"log/slog"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/docker"
	"github.com/cyrange/cyrange/range/local"
)

// driverOptions is what a range driver is built from.
type driverOptions struct {
	// DataDir is the exercise's data directory; StateDir (inside it) is
	// where a driver keeps what it must remember between runs.
	DataDir  string
	StateDir string
	// Version names the image (docker).
	Version string
	Logger  *slog.Logger
	// Binary is what the local driver runs; the running executable when
	// empty.
	Binary string
}

// newDriver builds the named driver; the returned func releases it.
func newDriver(ctx context.Context, name string, o driverOptions) (cyberrange.Driver, func() error, error) {
	switch name {
	case cyberrange.DriverLocal:
		d, err := local.New(local.Options{Binary: o.Binary, StateDir: o.StateDir, Logger: o.Logger})
		if err != nil {
			return nil, nil, err
		}
		return d, func() error { return nil }, nil
	case cyberrange.DriverDocker:
		d, err := docker.New(ctx, docker.Options{Logger: o.Logger})
		if err != nil {
			return nil, nil, err
		}
		return d, d.Close, nil
	default:
		return nil, nil, usagef("--driver must be local or docker, not %q", name)
	}
}
