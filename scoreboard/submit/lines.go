package submit

import (
	"bytes"
	"errors"
	"io"
)

// errLineTooLong is returned for a line longer than the reader's limit.
var errLineTooLong = errors.New("submit: line too long")

// lineReader cuts a byte stream into lines. Unlike bufio.Scanner it tells
// apart "no complete line buffered yet" from "wait for more", which is what
// lets the TCP door turn everything a client has already sent into one
// batch without blocking on a read in between.
type lineReader struct {
	rd   io.Reader
	buf  []byte
	r, w int
	max  int
	eof  bool
}

// newLineReader reads lines of at most max bytes (without "\n" and one
// trailing "\r") from rd into buf, which must be longer than max+1.
func newLineReader(rd io.Reader, buf []byte, max int) *lineReader {
	return &lineReader{rd: rd, buf: buf, max: max}
}

// next returns the next line already buffered, without its "\n" and one
// trailing "\r". ok is false when no complete line is buffered; after fill
// has seen the end of the stream, a last unterminated line counts as
// complete. The line is valid until the next fill. A line longer than max
// is errLineTooLong as soon as that is certain, even before its "\n".
func (l *lineReader) next() (line []byte, ok bool, err error) {
	pending := l.buf[l.r:l.w]
	i := bytes.IndexByte(pending, '\n')
	if i < 0 {
		// max+1 leaves room for a "\r" that will be dropped.
		if len(pending) > l.max+1 {
			return nil, false, errLineTooLong
		}
		if !l.eof || len(pending) == 0 {
			return nil, false, nil
		}
		i = len(pending)
		l.r = l.w
	} else {
		l.r += i + 1
	}
	line = pending[:i]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > l.max {
		return nil, false, errLineTooLong
	}
	return line, true, nil
}

// fill reads once more from the stream, keeping what next has not
// returned yet. It returns io.EOF once the stream has ended and any other
// read error as is; either way next may still hold lines.
func (l *lineReader) fill() error {
	if l.eof {
		return io.EOF
	}
	if l.r > 0 {
		l.w = copy(l.buf, l.buf[l.r:l.w])
		l.r = 0
	}
	if l.w == len(l.buf) {
		// Only a caller that did not drain next gets here.
		return errLineTooLong
	}
	n, err := l.rd.Read(l.buf[l.w:])
	l.w += n
	if errors.Is(err, io.EOF) {
		l.eof = true
	}
	return err
}

// moveTo goes on reading into buf, which must be longer than max+1,
// keeping what next has not returned yet.
func (l *lineReader) moveTo(buf []byte) {
	l.w = copy(buf, l.buf[l.r:l.w])
	l.r = 0
	l.buf = buf
}
