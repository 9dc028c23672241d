package mailmsg

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestRenderParseRoundTrip(t *testing.T) {
	m := Message{
		From: FormatAddress("Nguyễn Văn Hùng", "hungnv.stttt@lachong.gov.vn"), To: []string{"vanthu.snv@lachong.gov.vn"},
		Cc: []string{FormatAddress("Văn thư", "vanthu.vpubnd@lachong.gov.vn")}, Subject: "V/v triển khai chuyển đổi số",
		Date: time.Date(2024, 10, 1, 8, 30, 0, 0, time.UTC), MessageID: "1.abc@lachong.gov.vn", Text: "Kính gửi: Ông A,\n\nNội dung = 100%.\n",
		Attachments: []Attachment{{Name: "BC_01.pdf", Data: []byte("%PDF-1.5 \x00\xff")}, {Name: "Danh sách.csv", Data: []byte("a,b\n")}},
	}
	p := Parse(m.Render())
	if p.Subject != m.Subject || !strings.Contains(p.From, "Nguyễn Văn Hùng") || p.MessageID != m.MessageID || !p.Date.Equal(m.Date) {
		t.Errorf("headers: %+v", p)
	}
	if strings.ReplaceAll(p.Text, "\r\n", "\n") != m.Text+"\n" {
		t.Errorf("text %q", p.Text)
	}
	if len(p.Attachments) != 2 || p.Attachments[1].Name != "Danh sách.csv" || !bytes.Equal(p.Attachments[0].Data, m.Attachments[0].Data) {
		t.Errorf("attachments %+v", p.Attachments)
	}
	plain := Parse(Message{Subject: "x", Text: "chỉ văn bản"}.Render())
	if len(plain.Attachments) != 0 || !strings.HasPrefix(plain.Text, "chỉ văn bản") {
		t.Errorf("plain: %+v", plain)
	}
}

func TestSplitMbox(t *testing.T) {
	box := []byte("From a@b Mon Jan  1 00:00:00 2024\nSubject: 1\n\n>From here\n\nFrom c@d Mon Jan  1 00:00:01 2024\nSubject: 2\n\nx\n")
	msgs := SplitMbox(box)
	if len(msgs) != 2 || !bytes.Contains(msgs[0], []byte("\nFrom here")) || !bytes.HasPrefix(msgs[1], []byte("Subject: 2")) {
		t.Fatalf("%q", msgs)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(Message{Subject: "a", Text: "b", Attachments: []Attachment{{Name: "c.txt", Data: []byte("d")}}}.Render()))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a--\r\n"))
	f.Add([]byte("Subject: =?utf-8?B?////?=\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p := Parse(raw)
		for _, a := range p.Attachments {
			if a.Name == "" {
				t.Fatal("attachment without a name")
			}
		}
		_ = SplitMbox(raw)
	})
}

func FuzzRenderParse(f *testing.F) {
	f.Add("Báo cáo", "Nội dung\n= 3D", "BC.pdf", []byte("%PDF"))
	f.Add("", "", "a b.csv", []byte{})
	f.Fuzz(func(t *testing.T, subject, text, name string, data []byte) {
		clean := func(s string) bool {
			return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' || r == '\\' })
		}
		if !clean(subject) || !clean(name) || strings.TrimSpace(name) != name || name == "" || !utf8.ValidString(text) || strings.Contains(text, "\r") {
			return
		}
		p := Parse(Message{Subject: subject, Text: text, Attachments: []Attachment{{Name: name, Data: data}}}.Render())
		if len(p.Attachments) != 1 || p.Attachments[0].Name != name || !bytes.Equal(p.Attachments[0].Data, data) {
			t.Fatalf("attachment %q did not come back: %+v", name, p.Attachments)
		}
		if strings.TrimSpace(p.Subject) != strings.TrimSpace(subject) {
			t.Fatalf("subject %q came back as %q", subject, p.Subject)
		}
		if strings.ReplaceAll(p.Text, "\r\n", "\n") != text+"\n" {
			t.Fatalf("text %q came back as %q", text, p.Text)
		}
	})
}
