package main

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestWaitListening: the wait ends when the checker's port opens, and
// with an error when it stays shut past the timeout.
func TestWaitListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // shut for now

	if err := waitListening(context.Background(), []string{"http://" + addr}, 150*time.Millisecond); err == nil {
		t.Fatal("no error for a port that stays shut")
	}

	opened := make(chan net.Listener, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
		}
		opened <- ln
	}()
	start := time.Now()
	err = waitListening(context.Background(), []string{"http://" + addr + "/"}, 10*time.Second)
	if ln := <-opened; ln != nil {
		defer ln.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("returned after %s, before the port opened", d)
	}
}
