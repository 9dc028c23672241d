package mailserver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"

	"github.com/cyrange/cyrange/internal/firewall"
)

// imapSession is one IMAP connection. The server runs a connection's
// commands one at a time, so the session's own fields need no lock; the
// mailbox it works on is shared and locked per command.
type imapSession struct {
	srv *Server
	src string
	ip  netip.Addr

	acct      *Account
	master    bool // logged in with the checker's master password
	sel       *folder
	view      *imapserver.SessionTracker
	readOnly  bool
	searchRes imap.UIDSet
}

var _ imapserver.SessionIMAP4rev2 = (*imapSession)(nil)

var (
	errIMAPNoMailbox = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "Mailbox doesn't exist"}
	errIMAPExists    = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists, Text: "Mailbox already exists"}
	errIMAPLocked    = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed, Text: "Too many failed logins, try again later"}
	errIMAPReadOnly  = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Mailbox is read-only"}
	errIMAPInbox     = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "INBOX cannot be deleted"}
	errIMAPTooBig    = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: "Message too big"}
	errIMAPQuota     = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: "Quota exceeded"}
	errIMAPFolders   = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: "Too many mailboxes"}
)

// maxFolders bounds the folders of one mailbox.
const maxFolders = 100

var _ imapserver.SessionAppendLimit = (*imapSession)(nil)

// AppendLimit makes the library refuse a larger APPEND before its literal
// is accepted.
func (s *imapSession) AppendLimit() uint32 { return uint32(s.srv.store.limits.MessageBytes) }

func (s *imapSession) writer() writer { return writer{system: s.master, src: s.ip} }

func (s *Server) newIMAPSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	src := c.NetConn().RemoteAddr()
	s.event("imap", "connect", src.String(), "", "connection")
	return &imapSession{srv: s, src: src.String(), ip: firewall.SourceOf(src)}, nil, nil
}

func (s *imapSession) user() string {
	if s.acct == nil {
		return ""
	}
	return s.acct.Addr
}

func (s *imapSession) Close() error {
	s.unselect()
	s.srv.event("imap", "logout", s.src, s.user(), "connection closed")
	return nil
}

func (s *imapSession) Login(username, password string) error {
	acct, _ := s.srv.dir.Lookup(username)
	g, res := s.srv.sec.login(acct, username, password, s.ip)
	user := username
	if acct != nil {
		user = acct.Addr
	}
	switch res {
	case loginOK:
		if err := s.srv.live.bind("imap", s.src, g); err != nil {
			s.srv.warn("imap", "login", s.src, user, "login failed", "result", err.Error())
			return imapserver.ErrAuthFailed
		}
		s.acct, s.master = acct, g.master
		s.srv.event("imap", "login", s.src, user, "login")
		return nil
	case loginLocked:
		s.srv.warn("imap", "login", s.src, user, "login refused: locked out", "result", res.String())
		return errIMAPLocked
	}
	s.srv.warn("imap", "login", s.src, user, "login failed", "result", res.String())
	return imapserver.ErrAuthFailed
}

func (s *imapSession) unselect() {
	if s.view != nil {
		s.view.Close()
	}
	s.sel, s.view, s.searchRes = nil, nil, nil
}

func (s *imapSession) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	s.unselect()
	b := s.srv.store.lock(s.acct)
	defer b.mu.Unlock()
	f, ok := b.folder(name)
	if !ok {
		return nil, errIMAPNoMailbox
	}
	s.sel, s.view = f, f.tracker.NewSession()
	s.readOnly = options != nil && options.ReadOnly
	data := &imap.SelectData{
		Flags:          []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft},
		PermanentFlags: []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft, imap.FlagWildcard},
		NumMessages:    uint32(len(f.msgs)),
		UIDNext:        f.uidNext,
		UIDValidity:    f.uidValidity,
		List:           &imap.ListData{Mailbox: f.name, Delim: '/', Attrs: f.attrs()},
	}
	for i, m := range f.msgs {
		if !m.has(imap.FlagSeen) {
			data.FirstUnseenSeqNum = uint32(i + 1)
			break
		}
	}
	s.srv.event("imap", "select", s.src, s.user(), "select", "mailbox", f.name, "messages", len(f.msgs))
	return data, nil
}

func (f *folder) attrs() []imap.MailboxAttr {
	out := []imap.MailboxAttr{imap.MailboxAttrHasNoChildren}
	if f.attr != "" {
		out = append(out, f.attr)
	}
	return out
}

func (s *imapSession) Create(name string, _ *imap.CreateOptions) error {
	name = strings.TrimSuffix(name, "/")
	b := s.srv.store.lock(s.acct)
	defer b.mu.Unlock()
	if _, ok := b.folder(name); ok || name == "" {
		return errIMAPExists
	}
	if len(b.folders) >= maxFolders {
		return errIMAPFolders
	}
	b.folders = append(b.folders, &folder{
		name:        name,
		uidValidity: uint32(s.srv.now().Unix()),
		uidNext:     1,
		tracker:     imapserver.NewMailboxTracker(0),
		subscribed:  true,
	})
	s.srv.event("imap", "create", s.src, s.user(), "mailbox created", "mailbox", name)
	return nil
}

func (s *imapSession) Delete(name string) error {
	b := s.srv.store.lock(s.acct)
	defer b.mu.Unlock()
	f, ok := b.folder(name)
	if !ok {
		return errIMAPNoMailbox
	}
	if f.name == "INBOX" {
		return errIMAPInbox
	}
	for _, m := range f.msgs {
		s.srv.store.release(s.acct.Index, m)
	}
	b.folders = slices.DeleteFunc(b.folders, func(x *folder) bool { return x == f })
	s.srv.event("imap", "delete", s.src, s.user(), "mailbox deleted", "mailbox", f.name, "messages", len(f.msgs))
	return nil
}

func (s *imapSession) Rename(oldName, newName string, _ *imap.RenameOptions) error {
	b := s.srv.store.lock(s.acct)
	defer b.mu.Unlock()
	f, ok := b.folder(oldName)
	if !ok {
		return errIMAPNoMailbox
	}
	if _, exists := b.folder(newName); exists || newName == "" {
		return errIMAPExists
	}
	if f.name == "INBOX" {
		return errIMAPInbox
	}
	f.name = newName
	s.srv.event("imap", "rename", s.src, s.user(), "mailbox renamed", "mailbox", oldName, "to", newName)
	return nil
}

func (s *imapSession) setSubscribed(name string, on bool) error {
	b := s.srv.store.lock(s.acct)
	defer b.mu.Unlock()
	f, ok := b.folder(name)
	if !ok {
		return errIMAPNoMailbox
	}
	f.subscribed = on
	return nil
}

func (s *imapSession) Subscribe(name string) error   { return s.setSubscribed(name, true) }
func (s *imapSession) Unsubscribe(name string) error { return s.setSubscribed(name, false) }

func (s *imapSession) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 0 {
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: '/'})
	}
	b := s.srv.store.lock(s.acct)
	var out []imap.ListData
	for _, f := range b.folders {
		match := false
		for _, p := range patterns {
			if imapserver.MatchList(f.name, '/', ref, p) {
				match = true
				break
			}
		}
		if !match || options != nil && options.SelectSubscribed && !f.subscribed {
			continue
		}
		d := imap.ListData{Mailbox: f.name, Delim: '/', Attrs: f.attrs()}
		if f.subscribed && options != nil && (options.ReturnSubscribed || options.SelectSubscribed) {
			d.Attrs = append(d.Attrs, imap.MailboxAttrSubscribed)
		}
		if options != nil && options.ReturnStatus != nil {
			d.Status = f.status(options.ReturnStatus)
		}
		out = append(out, d)
	}
	b.mu.Unlock()
	s.srv.event("imap", "list", s.src, s.user(), "list", "mailboxes", len(out))
	for i := range out {
		if err := w.WriteList(&out[i]); err != nil {
			return err
		}
	}
	return nil
}

func (f *folder) status(o *imap.StatusOptions) *imap.StatusData {
	d := &imap.StatusData{Mailbox: f.name}
	if o.NumMessages {
		n := uint32(len(f.msgs))
		d.NumMessages = &n
	}
	if o.UIDNext {
		d.UIDNext = f.uidNext
	}
	if o.UIDValidity {
		d.UIDValidity = f.uidValidity
	}
	if o.NumUnseen {
		n := f.count(imap.FlagSeen, false)
		d.NumUnseen = &n
	}
	if o.NumDeleted {
		n := f.count(imap.FlagDeleted, true)
		d.NumDeleted = &n
	}
	if o.Size {
		n := f.size()
		d.Size = &n
	}
	if o.NumRecent {
		var n uint32
		d.NumRecent = &n
	}
	return d
}

func (s *imapSession) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	b := s.srv.store.lock(s.acct)
	defer b.mu.Unlock()
	f, ok := b.folder(name)
	if !ok {
		return nil, errIMAPNoMailbox
	}
	return f.status(options), nil
}

func (s *imapSession) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	if r.Size() > s.srv.store.limits.MessageBytes {
		return nil, errIMAPTooBig
	}
	// Charged before it is read: the size is known, and what is read is
	// then already within the quotas.
	ch, err := s.srv.store.reserve(s.writer(), []*Account{s.acct}, costOf(int(r.Size())))
	if err != nil {
		s.srv.warn("imap", "append", s.src, s.user(), "append refused: quota", "mailbox", name, "size", r.Size(), "reason", err.Error())
		return nil, errIMAPQuota
	}
	defer s.srv.store.trimSystem()
	raw, err := io.ReadAll(r)
	if err != nil {
		s.srv.store.refund(s.acct.Index, ch)
		return nil, err
	}
	b := s.srv.store.lock(s.acct)
	defer b.mu.Unlock()
	f, ok := b.folder(name)
	if !ok {
		s.srv.store.refund(s.acct.Index, ch)
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "Mailbox doesn't exist"}
	}
	date := s.srv.now()
	var flags []imap.Flag
	if options != nil {
		flags = options.Flags
		if !options.Time.IsZero() {
			date = options.Time
		}
	}
	m := s.srv.store.appendLocked(b, f, raw, flags, date, ch, nil)
	s.srv.event("imap", "append", s.src, s.user(), "message appended", "mailbox", f.name, "id", m.id, "size", len(raw))
	return &imap.AppendData{UID: m.uid, UIDValidity: f.uidValidity}, nil
}

func (s *imapSession) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if s.view == nil {
		return nil
	}
	return s.view.Poll(w, allowExpunge)
}

func (s *imapSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if s.view == nil {
		<-stop
		return nil
	}
	return s.view.Idle(w, stop)
}

func (s *imapSession) Unselect() error {
	s.unselect()
	return nil
}

func (s *imapSession) Expunge(_ *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	if s.readOnly {
		return errIMAPReadOnly
	}
	b := s.srv.store.lock(s.acct)
	defer b.mu.Unlock()
	f := s.sel
	var gone []int64
	// From the end, so that each expunged sequence number is still valid
	// when the sessions are told.
	for i := len(f.msgs) - 1; i >= 0; i-- {
		m := f.msgs[i]
		if !m.has(imap.FlagDeleted) || uids != nil && !uids.Contains(m.uid) {
			continue
		}
		gone = append(gone, m.id)
		s.srv.store.removeLocked(b, f, i)
	}
	if len(gone) > 0 {
		s.srv.event("imap", "expunge", s.src, s.user(), "messages expunged", "mailbox", f.name, "ids", gone)
	}
	return nil
}

// staticSet resolves "*" and "$" in a client's number set against the
// selected folder.
func (s *imapSession) staticSet(f *folder, numSet imap.NumSet) imap.NumSet {
	if imap.IsSearchRes(numSet) {
		return s.searchRes
	}
	fix := func(start, stop *uint32, maxNum uint32) {
		dynamic := *start == 0 || *stop == 0
		if *start == 0 {
			*start = maxNum
		}
		if *stop == 0 {
			*stop = maxNum
		}
		if dynamic && *start > *stop {
			*start, *stop = *stop, *start
		}
	}
	switch set := numSet.(type) {
	case imap.SeqSet:
		out := slices.Clone(set)
		for i := range out {
			fix(&out[i].Start, &out[i].Stop, uint32(len(f.msgs)))
		}
		return out
	case imap.UIDSet:
		out := slices.Clone(set)
		for i := range out {
			fix((*uint32)(&out[i].Start), (*uint32)(&out[i].Stop), uint32(f.uidNext-1))
		}
		return out
	}
	return numSet
}

// each calls fn for the messages of the selected folder in numSet, with
// their sequence number as this session sees it. The mailbox is locked.
func (s *imapSession) each(f *folder, numSet imap.NumSet, fn func(idx int, seq uint32, m *message)) {
	numSet = s.staticSet(f, numSet)
	for i, m := range f.msgs {
		seq := s.view.EncodeSeqNum(uint32(i + 1))
		var in bool
		switch set := numSet.(type) {
		case imap.SeqSet:
			in = seq != 0 && set.Contains(seq)
		case imap.UIDSet:
			in = set.Contains(m.uid)
		}
		if in {
			fn(i, seq, m)
		}
	}
}

func (s *imapSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	markSeen := false
	for _, bs := range options.BodySection {
		markSeen = markSeen || !bs.Peek
	}
	markSeen = markSeen && !s.readOnly
	type item struct {
		seq   uint32
		uid   imap.UID
		raw   []byte
		date  time.Time
		flags []imap.Flag
	}
	var items []item
	b := s.srv.store.lock(s.acct)
	f := s.sel
	s.each(f, numSet, func(idx int, seq uint32, m *message) {
		if markSeen && !m.has(imap.FlagSeen) {
			m.flags[imap.FlagSeen] = true
			f.tracker.QueueMessageFlags(uint32(idx+1), m.uid, m.flagList(), s.view)
		}
		items = append(items, item{seq: seq, uid: m.uid, raw: m.raw, date: m.date, flags: m.flagList()})
	})
	b.mu.Unlock()
	// Written without the lock: a slow client must not stall the mailbox.
	for _, it := range items {
		rw := w.CreateMessage(it.seq)
		rw.WriteUID(it.uid)
		if options.Flags || markSeen {
			rw.WriteFlags(it.flags)
		}
		if options.InternalDate {
			rw.WriteInternalDate(it.date)
		}
		if options.RFC822Size {
			rw.WriteRFC822Size(int64(len(it.raw)))
		}
		if options.Envelope {
			rw.WriteEnvelope(envelope(it.raw))
		}
		if options.BodyStructure != nil {
			rw.WriteBodyStructure(imapserver.ExtractBodyStructure(bytes.NewReader(it.raw)))
		}
		for _, bs := range options.BodySection {
			buf := imapserver.ExtractBodySection(bytes.NewReader(it.raw), bs)
			if err := writeLiteral(rw.WriteBodySection(bs, int64(len(buf))), buf); err != nil {
				return err
			}
		}
		for _, bs := range options.BinarySection {
			buf := imapserver.ExtractBinarySection(bytes.NewReader(it.raw), bs)
			if err := writeLiteral(rw.WriteBinarySection(bs, int64(len(buf))), buf); err != nil {
				return err
			}
		}
		for _, bss := range options.BinarySectionSize {
			rw.WriteBinarySectionSize(bss, imapserver.ExtractBinarySectionSize(bytes.NewReader(it.raw), bss))
		}
		if err := rw.Close(); err != nil {
			return err
		}
	}
	s.srv.event("imap", "fetch", s.src, s.user(), "fetch", "mailbox", f.name, "messages", len(items), "body", len(options.BodySection) > 0)
	return nil
}

func writeLiteral(wc io.WriteCloser, buf []byte) error {
	_, err := wc.Write(buf)
	if cerr := wc.Close(); err == nil {
		err = cerr
	}
	return err
}

func envelope(raw []byte) *imap.Envelope {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return &imap.Envelope{}
	}
	return imapserver.ExtractEnvelope(h)
}

func (s *imapSession) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	b := s.srv.store.lock(s.acct)
	f := s.sel
	s.resolveCriteria(f, criteria)
	var (
		data   imap.SearchData
		seqSet imap.SeqSet
		uidSet imap.UIDSet
	)
	for i, m := range f.msgs {
		seq := s.view.EncodeSeqNum(uint32(i + 1))
		if !matches(m, seq, criteria) {
			continue
		}
		uidSet.AddNum(m.uid)
		num := uint32(m.uid)
		if kind == imapserver.NumKindSeq {
			if seq == 0 {
				continue
			}
			seqSet.AddNum(seq)
			num = seq
		}
		if data.Min == 0 || num < data.Min {
			data.Min = num
		}
		data.Max = max(data.Max, num)
		data.Count++
	}
	b.mu.Unlock()
	if kind == imapserver.NumKindSeq {
		data.All = seqSet
	} else {
		data.All = uidSet
	}
	if options != nil && options.ReturnSave {
		s.searchRes = uidSet
	}
	s.srv.event("imap", "search", s.src, s.user(), "search", "mailbox", f.name, "matches", data.Count)
	return &data, nil
}

func (s *imapSession) resolveCriteria(f *folder, c *imap.SearchCriteria) {
	var seqs []imap.SeqSet
	for _, set := range c.SeqNum {
		switch st := s.staticSet(f, set).(type) {
		case imap.SeqSet:
			seqs = append(seqs, st)
		case imap.UIDSet:
			c.UID = append(c.UID, st)
		}
	}
	c.SeqNum = seqs
	for i, set := range c.UID {
		if st, ok := s.staticSet(f, set).(imap.UIDSet); ok {
			c.UID[i] = st
		}
	}
	for i := range c.Not {
		s.resolveCriteria(f, &c.Not[i])
	}
	for i := range c.Or {
		s.resolveCriteria(f, &c.Or[i][0])
		s.resolveCriteria(f, &c.Or[i][1])
	}
}

// matches evaluates a SEARCH criteria on one message. Text criteria are
// case-insensitive substring matches on the raw header or body, which is
// what clients expect for addresses, subjects and Message-IDs.
func matches(m *message, seq uint32, c *imap.SearchCriteria) bool {
	for _, set := range c.SeqNum {
		if seq == 0 || !set.Contains(seq) {
			return false
		}
	}
	for _, set := range c.UID {
		if !set.Contains(m.uid) {
			return false
		}
	}
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	if !c.Since.IsZero() && day(m.date).Before(day(c.Since)) || !c.Before.IsZero() && !day(m.date).Before(day(c.Before)) {
		return false
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		sent := m.sum.Date
		if sent.IsZero() || !c.SentSince.IsZero() && day(sent).Before(day(c.SentSince)) || !c.SentBefore.IsZero() && !day(sent).Before(day(c.SentBefore)) {
			return false
		}
	}
	head, body := splitRaw(m.raw)
	for _, hf := range c.Header {
		if !headerMatches(head, hf.Key, hf.Value) {
			return false
		}
	}
	for _, s := range c.Body {
		if !containsFold(body, s) {
			return false
		}
	}
	for _, s := range c.Text {
		if !containsFold(m.raw, s) {
			return false
		}
	}
	for _, fl := range c.Flag {
		if !m.has(fl) {
			return false
		}
	}
	for _, fl := range c.NotFlag {
		if m.has(fl) {
			return false
		}
	}
	if c.Larger > 0 && int64(len(m.raw)) <= c.Larger || c.Smaller > 0 && int64(len(m.raw)) >= c.Smaller {
		return false
	}
	for i := range c.Not {
		if matches(m, seq, &c.Not[i]) {
			return false
		}
	}
	for _, or := range c.Or {
		if !matches(m, seq, &or[0]) && !matches(m, seq, &or[1]) {
			return false
		}
	}
	return true
}

func splitRaw(raw []byte) (head, body []byte) {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return raw[:i+2], raw[i+4:]
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return raw[:i+1], raw[i+2:]
	}
	return raw, nil
}

func headerMatches(head []byte, key, value string) bool {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(append(slices.Clip(head), "\r\n"...))))
	if err != nil {
		return false
	}
	for _, v := range h.Values(key) {
		if strings.Contains(strings.ToLower(v), strings.ToLower(value)) {
			return true
		}
	}
	return false
}

func containsFold(hay []byte, needle string) bool {
	return bytes.Contains(bytes.ToLower(hay), bytes.ToLower([]byte(needle)))
}

func (s *imapSession) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, _ *imap.StoreOptions) error {
	if s.readOnly {
		return errIMAPReadOnly
	}
	type changed struct {
		seq   uint32
		uid   imap.UID
		flags []imap.Flag
	}
	var out []changed
	b := s.srv.store.lock(s.acct)
	f := s.sel
	s.each(f, numSet, func(idx int, seq uint32, m *message) {
		if flags.Op == imap.StoreFlagsSet {
			clear(m.flags)
		}
		for _, fl := range flags.Flags {
			m.flags[canonicalFlag(fl)] = flags.Op != imap.StoreFlagsDel
		}
		list := m.flagList()
		f.tracker.QueueMessageFlags(uint32(idx+1), m.uid, list, s.view)
		out = append(out, changed{seq: seq, uid: m.uid, flags: list})
	})
	b.mu.Unlock()
	s.srv.event("imap", "store", s.src, s.user(), "flags changed", "mailbox", f.name, "messages", len(out), "flags", fmt.Sprint(flags.Flags))
	if flags.Silent {
		return nil
	}
	for _, c := range out {
		rw := w.CreateMessage(c.seq)
		rw.WriteUID(c.uid)
		rw.WriteFlags(c.flags)
		if err := rw.Close(); err != nil {
			return err
		}
	}
	return nil
}

// transfer copies (and with move, removes) messages of the selected folder
// to dest. A copy is charged to the copier like new mail, all or nothing; a
// moved message keeps its charge.
func (s *imapSession) transfer(numSet imap.NumSet, dest string, move bool) (*imap.CopyData, error) {
	b := s.srv.store.lock(s.acct)
	defer s.srv.store.trimSystem() // runs after the unlock below
	defer b.mu.Unlock()
	f := s.sel
	to, ok := b.folder(dest)
	if !ok {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "Mailbox doesn't exist"}
	}
	var picked []int
	var cost int64
	s.each(f, numSet, func(idx int, _ uint32, m *message) {
		picked = append(picked, idx)
		cost += costOf(len(m.raw))
	})
	move = move && to != f
	if !move && len(picked) > 0 {
		if _, err := s.srv.store.reserve(s.writer(), []*Account{s.acct}, cost); err != nil {
			s.srv.warn("imap", "copy", s.src, s.user(), "copy refused: quota", "mailbox", f.name, "to", to.name, "reason", err.Error())
			return nil, errIMAPQuota
		}
	}
	data := &imap.CopyData{UIDValidity: to.uidValidity}
	for _, idx := range picked {
		m := f.msgs[idx]
		ch := charge{cost: costOf(len(m.raw)), system: s.master, src: s.writer().source()}
		if move {
			ch = m.ch
			m.ch = charge{} // goes with the new copy; the old one is removed below
		}
		sum := m.sum
		n := s.srv.store.appendLocked(b, to, m.raw, m.flagList(), m.date, ch, &sum)
		data.SourceUIDs.AddNum(m.uid)
		data.DestUIDs.AddNum(n.uid)
	}
	if move {
		for i := len(picked) - 1; i >= 0; i-- {
			s.srv.store.removeLocked(b, f, picked[i])
		}
	}
	action := "copy"
	if move {
		action = "move"
	}
	s.srv.event("imap", action, s.src, s.user(), "messages "+action+"d", "mailbox", f.name, "to", to.name, "messages", len(picked))
	return data, nil
}

func (s *imapSession) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	return s.transfer(numSet, dest, false)
}

func (s *imapSession) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	data, err := s.transfer(numSet, dest, true)
	if err != nil {
		return err
	}
	return w.WriteCopyData(data)
}

func (s *imapSession) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: '/'}}}, nil
}
