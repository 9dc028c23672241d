package submit

import (
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// parseFlags reads body as a JSON array of at most max strings and
// appends them to dst. It accepts exactly what encoding/json accepts for
// an array of strings, and decodes strings the same way (invalid UTF-8
// and lone surrogates become U+FFFD), without reflection: strings without
// escapes alias body. Its errors are reasons fit for the client.
func parseFlags(body []byte, max int, dst [][]byte) ([][]byte, error) {
	p := jsonParser{b: body}
	p.skipSpace()
	if p.i == len(p.b) {
		return dst, errors.New("empty body: want a JSON array of flag strings")
	}
	if p.b[p.i] != '[' {
		return dst, errors.New("body is not a JSON array of flag strings")
	}
	p.i++
	p.skipSpace()
	n := 0
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
	} else {
		for {
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				if p.i >= len(p.b) {
					return dst, errors.New("unexpected end of body inside the array")
				}
				return dst, fmt.Errorf("element %d is not a string", n)
			}
			if n == max {
				return dst, fmt.Errorf("more than %d flags in one request", max)
			}
			s, err := p.str()
			if err != nil {
				return dst, fmt.Errorf("element %d: %w", n, err)
			}
			dst = append(dst, s)
			n++
			p.skipSpace()
			if p.i >= len(p.b) {
				return dst, errors.New("unexpected end of body inside the array")
			}
			c := p.b[p.i]
			p.i++
			if c == ']' {
				break
			}
			if c != ',' {
				return dst, fmt.Errorf("expected ',' or ']' after element %d", n-1)
			}
			p.skipSpace()
		}
	}
	p.skipSpace()
	if p.i != len(p.b) {
		return dst, errors.New("data after the JSON array")
	}
	return dst, nil
}

type jsonParser struct {
	b []byte
	i int
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// str reads the string starting at the '"' under p.i.
func (p *jsonParser) str() ([]byte, error) {
	p.i++
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			p.i++
			return p.b[start : p.i-1 : p.i-1], nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return p.slowStr(start)
		}
		p.i++
	}
	return nil, errors.New("unterminated string")
}

// slowStr decodes a string with escapes or non-ASCII bytes into a copy.
func (p *jsonParser) slowStr(start int) ([]byte, error) {
	out := make([]byte, 0, p.i-start+16)
	out = append(out, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return out, nil
		case c < 0x20:
			return nil, errors.New("control character in string")
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return nil, errors.New("unterminated string")
			}
			e := p.b[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(p.b[p.i:])
				if !ok {
					return nil, errors.New("invalid \\u escape")
				}
				p.i += 4
				if utf16.IsSurrogate(r) {
					// A high surrogate pairs only with a following
					// \u low surrogate; anything else is replaced and
					// what follows is read on its own.
					r2 := utf8.RuneError
					if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						if v, ok := hex4(p.b[p.i+2:]); ok {
							if d := utf16.DecodeRune(r, v); d != utf8.RuneError {
								r2 = d
								p.i += 6
							}
						}
					}
					r = r2
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, fmt.Errorf("invalid escape \\%c", e)
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, p.b[p.i:p.i+size]...)
			}
			p.i += size
		}
	}
	return nil, errors.New("unterminated string")
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, quotes included.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	dst = appendJSONInner(dst, s)
	return append(dst, '"')
}

// appendJSONInner appends s escaped for the inside of a JSON string.
// Invalid UTF-8 becomes U+FFFD, so the output is always valid JSON;
// U+2028 and U+2029 are escaped for the sake of JavaScript readers.
func appendJSONInner(dst, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}
