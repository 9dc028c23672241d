package submit

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// chunkReader returns its data in pieces of at most n bytes.
type chunkReader struct {
	data []byte
	n    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n, len(r.data))
	copy(p, r.data[:k])
	r.data = r.data[k:]
	return k, nil
}

// readAllLines drives a lineReader the way the TCP reader does: after
// moveAfter lines (the token line; never if negative) it goes on in a
// buffer of moveSize bytes.
func readAllLines(rd io.Reader, bufSize, max, moveAfter, moveSize int) (lines []string, tooLong bool, err error) {
	lr := newLineReader(rd, make([]byte, bufSize), max)
	for {
		if len(lines) == moveAfter {
			lr.moveTo(make([]byte, moveSize))
			moveAfter = -1
		}
		line, ok, err := lr.next()
		if errors.Is(err, errLineTooLong) {
			return lines, true, nil
		}
		if ok {
			lines = append(lines, string(line))
			continue
		}
		if lr.eof {
			return lines, false, nil
		}
		if err := lr.fill(); err != nil && !errors.Is(err, io.EOF) {
			return lines, false, err
		}
	}
}

// refLines is the specification: split at "\n", drop one trailing "\r",
// a last line without "\n" counts unless empty, and the first line longer
// than max ends the stream.
func refLines(data []byte, max int) (lines []string, tooLong bool) {
	parts := bytes.Split(data, []byte("\n"))
	for i, p := range parts {
		if i == len(parts)-1 && len(p) == 0 {
			break
		}
		p = bytes.TrimSuffix(p, []byte("\r"))
		if len(p) > max {
			return lines, true
		}
		lines = append(lines, string(p))
	}
	return lines, false
}

func TestLineReader(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		tooLong bool
	}{
		{"", nil, false},
		{"a\nb\n", []string{"a", "b"}, false},
		{"a\r\n\r\nb", []string{"a", "", "b"}, false},
		{"a\r\r\n", []string{"a\r"}, false},
		{"12345\n", []string{"12345"}, false},
		{"12345\r\n", []string{"12345"}, false},
		{"123456\n", nil, true},
		{"ok\n123456\r\nlater\n", []string{"ok"}, true},
		{"12345\r", []string{"12345"}, false},
		{"1234567", nil, true},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 2, 3, 100} {
			got, tooLong, err := readAllLines(&chunkReader{data: []byte(tt.in), n: chunk}, 16, 5, -1, 0)
			if err != nil || tooLong != tt.tooLong || !equalLines(got, tt.want) {
				t.Errorf("%q in chunks of %d: %q, too long %v, %v; want %q, %v", tt.in, chunk, got, tooLong, err, tt.want, tt.tooLong)
			}
		}
	}
}

func TestLineReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	_, _, err := readAllLines(iotest.ErrReader(boom), 16, 5, -1, 0)
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzLineReader checks the line splitting and its length limit against
// refLines, for any input cut into any chunk size, also when the reader
// moves to a larger buffer after the first line (as a connection does once
// its token is accepted).
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("AAAA\nBBBB\r\n\n"), uint8(1))
	f.Add([]byte("x\r\r\n\r"), uint8(2))
	f.Add(bytes.Repeat([]byte("A"), 300), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		const max = 20
		for _, bufs := range []struct{ size, moveAfter int }{{max + 2, -1}, {64, -1}, {max + 2, 1}, {max + 2, 0}} {
			got, tooLong, err := readAllLines(&chunkReader{data: data, n: int(chunk)%31 + 1}, bufs.size, max, bufs.moveAfter, 64)
			if err != nil {
				t.Fatal(err)
			}
			want, wantLong := refLines(data, max)
			if tooLong != wantLong || !equalLines(got, want) {
				t.Fatalf("%q (chunks of %d, buffer %d moved after %d lines): %q, too long %v; want %q, %v",
					data, int(chunk)%31+1, bufs.size, bufs.moveAfter, got, tooLong, want, wantLong)
			}
		}
	})
}
