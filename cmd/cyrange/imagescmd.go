package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cyrange/cyrange/range/docker"
	"github.com/cyrange/cyrange/range/probe"
)

// runImages is `cyrange images build`: the range's images, built into the
// local Docker engine from this binary, with no registry.
func runImages(ctx context.Context, e *env, args []string) error {
	const usage = "usage: cyrange images build [--attackbox [--cache-dir DIR]] [--tag TAG] [--binary PATH] [--source DIR]"
	if len(args) == 0 || args[0] != "build" {
		return usagef("%s", usage)
	}
	fs := newFlagSet(e, "images build")
	attackbox := fs.Bool("attackbox", false, "build the attack box instead (cyrange-attackbox:VERSION): a Debian workstation made with debootstrap; needs root and takes minutes")
	tag := fs.String("tag", "", "image tag (default cyrange:VERSION, or cyrange-attackbox:VERSION)")
	cacheDir := fs.String("cache-dir", "", "with --attackbox: keep downloaded Debian packages here between builds")
	binary := fs.String("binary", "", "static cyrange binary to put in the image (default: this one)")
	source := fs.String("source", ".", "where to look for the cyrange source when this binary is not static and one must be built")
	verbose := fs.Bool("v", false, "log debug messages")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("%s", usage)
	}
	d, err := docker.New(ctx, docker.Options{Logger: newLogger(e.stderr, *verbose), BuildOutput: e.stdout})
	if err != nil {
		return err
	}
	defer d.Close()
	start := time.Now()
	if *attackbox {
		if *tag == "" {
			*tag = "cyrange-attackbox:" + version
		}
		if err := d.BuildAttackBox(ctx, docker.AttackBoxOptions{Tag: *tag, Output: e.stdout, CacheDir: *cacheDir}); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "built %s in %s\n", *tag, time.Since(start).Round(time.Second))
		return nil
	}
	if *tag == "" {
		*tag = "cyrange:" + version
	}
	bin, cleanup, err := docker.StaticBinary(ctx, *binary, *source, versionLDFlags(), e.stdout)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintf(e.stdout, "building %s from %s\n", *tag, bin)
	if err := d.BuildImage(ctx, *tag, bin); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "built %s in %s\n", *tag, time.Since(start).Round(time.Millisecond))
	return nil
}

// versionLDFlags gives a cyrange built for an image this one's version.
func versionLDFlags() string { return "-X main.version=" + version }

// runProbe is the role `cyrange probe`, for tests of the range's
// isolation, run inside its containers.
func runProbe(ctx context.Context, e *env, args []string) error {
	err := probe.Run(ctx, args, e.stdout, e.stderr)
	if ue := (*probe.UsageError)(nil); errors.As(err, &ue) {
		return usagef("%s", ue.Msg)
	}
	return err
}
