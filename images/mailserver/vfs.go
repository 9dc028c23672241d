package mailserver

import (
	"bytes"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"

	"github.com/cyrange/cyrange/images/mailserver/mailmsg"
)

// readFile is the file system the webmail's attachment download reads. It
// is a view of the server's own state laid out as the vendor's install lays
// out its disk (configuration, one mbox file per folder, attachments by
// message id), so that a path traversal behaves as on the real machine while
// never reaching the host's files.
func (s *Server) readFile(p string) ([]byte, bool) {
	switch p {
	case "/etc/passwd":
		return []byte("root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/bin:/sbin/nologin\n" +
			"daemon:x:2:2:daemon:/sbin:/sbin/nologin\nmail:x:8:12:mail:/var/spool/mail:/sbin/nologin\n" +
			"nobody:x:99:99:Nobody:/:/sbin/nologin\nvnmail:x:1001:1001:VNMail Server:/opt/vnmail:/sbin/nologin\n" +
			"quantri:x:1002:1002:Quan tri he thong:/home/quantri:/bin/bash\n"), true
	case "/etc/hostname":
		return []byte(s.hostname + "\n"), true
	case "/etc/hosts":
		return []byte("127.0.0.1   localhost localhost.localdomain\n::1         localhost6\n127.0.1.1   " + s.hostname + " mail\n"), true
	case "/etc/os-release":
		return []byte("NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n"), true
	case "/etc/vnmail/vnmail.conf":
		return s.configFile(), true
	}
	if rest, ok := strings.CutPrefix(p, mailRoot+"/"+s.dir.Domain+"/"); ok {
		local, folderName, ok := strings.Cut(rest, "/")
		acct, found := s.dir.Lookup(local)
		if !ok || !found || acct.Local != local {
			return nil, false
		}
		return s.mbox(acct, folderName)
	}
	if rest, ok := strings.CutPrefix(p, attachmentRoot+"/"); ok {
		idText, name, ok := strings.Cut(rest, "/")
		id, err := strconv.ParseInt(idText, 10, 64)
		if !ok || err != nil || strings.Contains(name, "/") {
			return nil, false
		}
		m, found := s.store.message(id)
		if !found {
			return nil, false
		}
		for _, a := range mailmsg.Parse(m.Raw).Attachments {
			if a.Name == name {
				return a.Data, true
			}
		}
	}
	return nil, false
}

func (s *Server) configFile() []byte {
	set := s.sec.get()
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	port := func(addr string) string {
		if i := strings.LastIndexByte(addr, ':'); i >= 0 {
			return addr[i+1:]
		}
		return addr
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# VNMail Server 3.2 - cau hinh chinh\n# Nha cung cap: Cong ty CP Giai phap VNMail\n\n")
	fmt.Fprintf(&b, "hostname = %s\ndomain = %s\n\n", s.hostname, s.dir.Domain)
	fmt.Fprintf(&b, "[listen]\nsmtp = 0.0.0.0:%s\nimap = 0.0.0.0:%s\nwebmail = 0.0.0.0:%s\nadmin = 0.0.0.0:%s\n\n",
		port(s.AddrSMTP()), port(s.AddrIMAP()), port(s.AddrHTTP()), port(s.AddrAdmin()))
	fmt.Fprintf(&b, "[storage]\n# %%d = domain, %%n = user name\nmail_location = mbox:%s/%%d/%%n\nfolders = INBOX Sent Drafts Trash Junk\nattachment_dir = %s\n\n", mailRoot, attachmentRoot)
	fmt.Fprintf(&b, "[auth]\npassword_scheme = SSHA256\nlockout = %s\nlockout_threshold = %d\n\n", yesNo(set.Lockout), set.LockThreshold)
	fmt.Fprintf(&b, "[smtp]\ndisable_vrfy_command = %s\nmessage_size_limit = %d\n\n", yesNo(!set.VRFY), s.store.limits.MessageBytes)
	fmt.Fprintf(&b, "[log]\nfile = /var/log/vnmail/vnmail.log\nformat = json\n")
	return b.Bytes()
}

// mbox renders one folder in mbox format, as the mail store keeps it.
func (s *Server) mbox(acct *Account, folderName string) ([]byte, bool) {
	msgs, err := s.store.list(acct, folderName)
	if err != nil {
		return nil, false
	}
	slices.Reverse(msgs)
	var b bytes.Buffer
	for _, m := range msgs {
		sender := "MAILER-DAEMON"
		if a, err := mail.ParseAddress(m.Sum.From); err == nil {
			sender = a.Address
		}
		fmt.Fprintf(&b, "From %s %s\n", sender, m.Date.UTC().Format("Mon Jan _2 15:04:05 2006"))
		for line := range strings.Lines(strings.ReplaceAll(string(m.Raw), "\r\n", "\n")) {
			if strings.HasPrefix(line, "From ") {
				b.WriteByte('>')
			}
			b.WriteString(line)
		}
		b.WriteString("\n\n")
	}
	return b.Bytes(), true
}
