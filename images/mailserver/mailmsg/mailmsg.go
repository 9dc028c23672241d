// Package mailmsg writes and reads RFC 5322 messages with MIME parts: the
// target's webmail, the checker and the exploits all need to build a
// message with attachments and to get the text and files back out of one.
//
// It uses the standard library only and must never import the target, the
// checker or the exploits.
package mailmsg

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// Message is a message to be written out as RFC 5322 text.
type Message struct {
	From        string // "Name <addr>"
	To, Cc      []string
	Subject     string
	Date        time.Time
	MessageID   string // without angle brackets; generated when empty
	InReplyTo   string
	Mailer      string
	Extra       [][2]string // further header fields, in order
	Boundary    string      // multipart boundary; random when empty
	Text        string
	Attachments []Attachment
}

// Attachment is one attached file.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// FormatAddress writes "Name <addr>" with the name encoded when it is not
// ASCII, as mail clients do.
func FormatAddress(name, addr string) string {
	if name == "" {
		return addr
	}
	return (&mail.Address{Name: name, Address: addr}).String()
}

// NewMessageID makes a Message-ID in the style of the webmail.
func NewMessageID(domain string, now time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%d.%s@%s", now.UnixMilli(), hex.EncodeToString(b[:]), domain)
}

// Render writes the message as CRLF-terminated MIME text.
func (d Message) Render() []byte {
	var buf bytes.Buffer
	h := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&buf, "%s: %s\r\n", k, v)
		}
	}
	h("Date", d.Date.Format(time.RFC1123Z))
	h("From", d.From)
	h("To", strings.Join(d.To, ", "))
	h("Cc", strings.Join(d.Cc, ", "))
	h("Message-ID", "<"+d.MessageID+">")
	if d.InReplyTo != "" {
		h("In-Reply-To", "<"+d.InReplyTo+">")
	}
	h("Subject", mime.BEncoding.Encode("utf-8", d.Subject))
	h("X-Mailer", d.Mailer)
	for _, kv := range d.Extra {
		h(kv[0], kv[1])
	}
	h("MIME-Version", "1.0")
	if len(d.Attachments) == 0 {
		buf.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		writeQP(&buf, d.Text)
		return buf.Bytes()
	}
	mw := multipart.NewWriter(&buf)
	if d.Boundary != "" {
		_ = mw.SetBoundary(d.Boundary)
	}
	fmt.Fprintf(&buf, "Content-Type: multipart/mixed; boundary=%q\r\n\r\nThis is a multi-part message in MIME format.\r\n", mw.Boundary())
	th := textproto.MIMEHeader{}
	th.Set("Content-Type", "text/plain; charset=utf-8")
	th.Set("Content-Transfer-Encoding", "quoted-printable")
	pw, _ := mw.CreatePart(th)
	writeQP(pw, d.Text)
	for _, a := range d.Attachments {
		ah := textproto.MIMEHeader{}
		ct := a.ContentType
		if ct == "" {
			ct = ContentTypeFor(a.Name)
		}
		ah.Set("Content-Type", mime.FormatMediaType(ct, map[string]string{"name": a.Name}))
		ah.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
		ah.Set("Content-Transfer-Encoding", "base64")
		aw, _ := mw.CreatePart(ah)
		writeBase64Lines(aw, a.Data)
	}
	_ = mw.Close()
	return buf.Bytes()
}

func writeQP(w io.Writer, text string) {
	qp := quotedprintable.NewWriter(w)
	_, _ = qp.Write([]byte(strings.ReplaceAll(text, "\n", "\r\n")))
	_ = qp.Close()
	_, _ = io.WriteString(w, "\r\n")
}

func writeBase64Lines(w io.Writer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		_, _ = io.WriteString(w, enc[:76]+"\r\n")
		enc = enc[76:]
	}
	_, _ = io.WriteString(w, enc+"\r\n")
}

// ContentTypeFor guesses a file's MIME type from its name.
func ContentTypeFor(name string) string {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".pdf"):
		return "application/pdf"
	case strings.HasSuffix(lower, ".docx"):
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case strings.HasSuffix(lower, ".xlsx"):
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case strings.HasSuffix(lower, ".doc"):
		return "application/msword"
	case strings.HasSuffix(lower, ".txt"), strings.HasSuffix(lower, ".csv"):
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// Parsed is what a reader gets out of a message.
type Parsed struct {
	From, To, Cc string
	Subject      string
	Date         time.Time
	MessageID    string
	Text         string
	Attachments  []Attachment
}

// maxMIMEDepth bounds nested multiparts: mail from outside is untrusted.
const maxMIMEDepth = 8

// Parse reads the headers, the text and the attachments of raw RFC 5322
// text. It never fails outright: a message it cannot read comes back as its
// raw text, as a webmail would show it.
func Parse(raw []byte) Parsed {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Parsed{Text: string(raw)}
	}
	dec := new(mime.WordDecoder)
	decode := func(s string) string {
		if out, err := dec.DecodeHeader(s); err == nil {
			return out
		}
		return s
	}
	p := Parsed{
		From:      decode(m.Header.Get("From")),
		To:        decode(m.Header.Get("To")),
		Cc:        decode(m.Header.Get("Cc")),
		Subject:   decode(m.Header.Get("Subject")),
		MessageID: strings.Trim(strings.TrimSpace(m.Header.Get("Message-ID")), "<>"),
	}
	if t, err := m.Header.Date(); err == nil {
		p.Date = t
	}
	walkPart(&p, textproto.MIMEHeader(m.Header), m.Body, 0)
	return p
}

func walkPart(p *Parsed, h textproto.MIMEHeader, body io.Reader, depth int) {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		mediaType, params = "application/octet-stream", nil
	}
	if strings.HasPrefix(mediaType, "multipart/") && params["boundary"] != "" && depth < maxMIMEDepth {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err != nil {
				return
			}
			walkPart(p, part.Header, part, depth+1)
		}
	}
	data, err := io.ReadAll(io.LimitReader(decodeTransfer(h.Get("Content-Transfer-Encoding"), body), 32<<20))
	if err != nil && len(data) == 0 {
		return
	}
	name := params["name"]
	if _, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && dp["filename"] != "" {
		name = dp["filename"]
	}
	if name == "" && mediaType == "text/plain" && p.Text == "" {
		p.Text = string(data)
		return
	}
	if name == "" {
		if mediaType == "text/plain" || mediaType == "text/html" {
			return
		}
		name = fmt.Sprintf("part%d.bin", len(p.Attachments)+1)
	}
	p.Attachments = append(p.Attachments, Attachment{Name: name, ContentType: mediaType, Data: data})
}

func decodeTransfer(enc string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &newlineStripper{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// newlineStripper drops CR and LF so that base64 split over lines decodes.
type newlineStripper struct{ r io.Reader }

func (s *newlineStripper) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// SplitMbox cuts an mbox file into its messages, undoing the ">From "
// quoting of lines that began with "From ".
func SplitMbox(data []byte) [][]byte {
	var out [][]byte
	var cur []byte
	started := false
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line = data[:i+1]
		}
		data = data[len(line):]
		switch {
		case bytes.HasPrefix(line, []byte("From ")):
			if started {
				out = append(out, cur)
			}
			cur, started = nil, true
		case started:
			if bytes.HasPrefix(line, []byte(">From ")) {
				line = line[1:]
			}
			cur = append(cur, line...)
		}
	}
	if started {
		out = append(out, cur)
	}
	return out
}
