package mailserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Message ids are the webmail's: one number per stored message, unique
// across the server. Generated background mail has ids derived from its
// owner's index (so it needs no table before the owner's mailbox is opened);
// mail that arrives while the server runs counts up from liveBase.
const (
	genBase       = 100000
	genPerAccount = 64
	liveBase      = 1000000
)

// Folder names every mailbox has, with their special use.
var standardFolders = []struct {
	name string
	attr imap.MailboxAttr
}{
	{"INBOX", ""},
	{"Sent", imap.MailboxAttrSent},
	{"Drafts", imap.MailboxAttrDrafts},
	{"Trash", imap.MailboxAttrTrash},
	{"Junk", imap.MailboxAttrJunk},
}

var errNoMailbox = errors.New("no such mailbox")

type message struct {
	id    int64
	uid   imap.UID
	raw   []byte
	date  time.Time
	flags map[imap.Flag]bool // guarded by the mailbox's mutex
	sum   summary
	ch    charge // what storing it was charged; zero for generated mail
}

// summary is a message's header as the webmail lists it, read once when the
// message is stored (raw never changes).
type summary struct {
	From, To, Subject, MessageID string
	Date                         time.Time
	Multipart                    bool
}

func summarize(raw []byte) summary {
	m, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return summary{}
	}
	dec := new(mime.WordDecoder)
	decode := func(s string) string {
		if out, err := dec.DecodeHeader(s); err == nil {
			return out
		}
		return s
	}
	s := summary{
		From:      decode(m.Header.Get("From")),
		To:        decode(m.Header.Get("To")),
		Subject:   decode(m.Header.Get("Subject")),
		MessageID: strings.Trim(strings.TrimSpace(m.Header.Get("Message-ID")), "<>"),
		Multipart: strings.HasPrefix(strings.ToLower(strings.TrimSpace(m.Header.Get("Content-Type"))), "multipart/mixed"),
	}
	if t, err := m.Header.Date(); err == nil {
		s.Date = t
	}
	return s
}

func (m *message) flagList() []imap.Flag {
	out := make([]imap.Flag, 0, len(m.flags))
	for f, on := range m.flags {
		if on {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

func (m *message) has(f imap.Flag) bool { return m.flags[canonicalFlag(f)] }

type folder struct {
	name        string
	attr        imap.MailboxAttr
	uidValidity uint32
	uidNext     imap.UID
	msgs        []*message
	tracker     *imapserver.MailboxTracker
	subscribed  bool
}

func (f *folder) size() int64 {
	var n int64
	for _, m := range f.msgs {
		n += int64(len(m.raw))
	}
	return n
}

func (f *folder) count(flag imap.Flag, want bool) uint32 {
	var n uint32
	for _, m := range f.msgs {
		if m.has(flag) == want {
			n++
		}
	}
	return n
}

// mailbox is one account's folders. Its mutex guards the folders, their
// messages and the messages' flags.
type mailbox struct {
	mu      sync.Mutex
	acct    *Account
	loaded  bool
	folders []*folder
	// pending is mail delivered before the mailbox was first opened: it
	// joins the folders when they are built, so that mail to every
	// address does not build every mailbox's generated past.
	pending []pendingMsg
}

type pendingMsg struct {
	folder string
	m      *message
}

// standardFolder returns the standard folder name matches, as
// mailbox.folder matches names.
func standardFolder(name string) (string, bool) {
	for _, sf := range standardFolders {
		if strings.EqualFold(name, "INBOX") && sf.name == "INBOX" || sf.name == name {
			return sf.name, true
		}
	}
	return "", false
}

func (b *mailbox) folder(name string) (*folder, bool) {
	for _, f := range b.folders {
		if strings.EqualFold(name, "INBOX") && f.name == "INBOX" || f.name == name {
			return f, true
		}
	}
	return nil, false
}

func (b *mailbox) byID(id int64) (*folder, int, bool) {
	for _, f := range b.folders {
		for i, m := range f.msgs {
			if m.id == id {
				return f, i, true
			}
		}
	}
	return nil, 0, false
}

// store holds every mailbox. A mailbox's generated background mail is only
// built the first time its owner opens it, which is what keeps start-up
// fast and memory small at eleven thousand accounts: delivering to a
// mailbox, or reading it from the console or by message id, does not build
// it.
type store struct {
	dir    *Directory
	gen    *traffic
	now    func() time.Time
	start  time.Time
	boxes  []mailbox
	limits Limits

	// mu guards the fields below; it is taken after a mailbox's mutex,
	// never before.
	mu       sync.Mutex
	live     map[int64]int
	nextID   int64
	used     []int64 // per mailbox, charged to others than the checker
	bySource map[netip.Prefix]int64
	total    int64 // charged to others than the checker
	system   int64 // the checker's pool
	sysq     []sysRef
	sysHead  int
}

func newStore(dir *Directory, gen *traffic, now func() time.Time, limits Limits) *store {
	s := &store{
		dir:      dir,
		gen:      gen,
		now:      now,
		start:    now(),
		boxes:    make([]mailbox, len(dir.Accounts)),
		limits:   limits.withDefaults(),
		live:     make(map[int64]int),
		nextID:   liveBase,
		used:     make([]int64, len(dir.Accounts)),
		bySource: make(map[netip.Prefix]int64),
	}
	for i, a := range dir.Accounts {
		s.boxes[i].acct = a
	}
	return s
}

// lock returns acct's mailbox locked and loaded; the caller unlocks it.
func (s *store) lock(acct *Account) *mailbox {
	b := &s.boxes[acct.Index]
	b.mu.Lock()
	if !b.loaded {
		s.load(b)
	}
	return b
}

func (s *store) load(b *mailbox) {
	validity := uint32(s.start.Unix())
	for i, sf := range standardFolders {
		b.folders = append(b.folders, &folder{
			name:        sf.name,
			attr:        sf.attr,
			uidValidity: validity + uint32(i),
			uidNext:     1,
			subscribed:  true,
		})
	}
	for _, g := range s.gen.mailbox(b.acct, s.start) {
		f, _ := b.folder(g.folder)
		f.msgs = append(f.msgs, &message{id: g.id, uid: f.uidNext, raw: g.raw, date: g.date, flags: g.flags, sum: summarize(g.raw)})
		f.uidNext++
	}
	for _, p := range b.pending {
		f, _ := b.folder(p.folder)
		p.m.uid = f.uidNext
		f.uidNext++
		f.msgs = append(f.msgs, p.m)
	}
	b.pending = nil
	for _, f := range b.folders {
		f.tracker = imapserver.NewMailboxTracker(uint32(len(f.msgs)))
	}
	b.loaded = true
}

// newMessage makes a live message of mailbox b, charged ch, with a new id.
// sum is the parsed header when the caller has it (a copy), else nil.
func (s *store) newMessage(b *mailbox, raw []byte, flags []imap.Flag, date time.Time, ch charge, sum *summary) *message {
	m := &message{raw: raw, date: date, flags: make(map[imap.Flag]bool), ch: ch}
	if sum != nil {
		m.sum = *sum
	} else {
		m.sum = summarize(raw)
	}
	for _, fl := range flags {
		m.flags[canonicalFlag(fl)] = true
	}
	s.mu.Lock()
	s.nextID++
	m.id = s.nextID
	s.live[m.id] = b.acct.Index
	if ch.system && ch.cost > 0 {
		s.sysq = append(s.sysq, sysRef{acct: b.acct.Index, id: m.id})
	}
	s.mu.Unlock()
	return m
}

// appendLocked stores raw in folder f of the locked, loaded mailbox b,
// charged ch, and tells the IMAP sessions watching f.
func (s *store) appendLocked(b *mailbox, f *folder, raw []byte, flags []imap.Flag, date time.Time, ch charge, sum *summary) *message {
	m := s.newMessage(b, raw, flags, date, ch, sum)
	m.uid = f.uidNext
	f.uidNext++
	f.msgs = append(f.msgs, m)
	f.tracker.QueueNumMessages(uint32(len(f.msgs)))
	return m
}

// put stores raw, already charged ch, in acct's folder, without building
// the mailbox if nobody opened it yet, and returns the message's id. On
// failure the charge is refunded.
func (s *store) put(acct *Account, folderName string, raw []byte, flags []imap.Flag, ch charge) (int64, error) {
	b := &s.boxes[acct.Index]
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.loaded {
		name, ok := standardFolder(folderName)
		if !ok {
			s.refund(acct.Index, ch)
			return 0, fmt.Errorf("%w: %s", errNoMailbox, folderName)
		}
		m := s.newMessage(b, raw, flags, s.now(), ch, nil)
		b.pending = append(b.pending, pendingMsg{folder: name, m: m})
		return m.id, nil
	}
	f, ok := b.folder(folderName)
	if !ok {
		s.refund(acct.Index, ch)
		return 0, fmt.Errorf("%w: %s", errNoMailbox, folderName)
	}
	return s.appendLocked(b, f, raw, flags, s.now(), ch, nil).id, nil
}

// deliver stores raw from w in acct's folder and returns the new message's
// id; the quotas may refuse it.
func (s *store) deliver(acct *Account, folderName string, raw []byte, flags []imap.Flag, w writer) (int64, error) {
	ch, err := s.reserve(w, []*Account{acct}, costOf(len(raw)))
	if err != nil {
		return 0, err
	}
	id, err := s.put(acct, folderName, raw, flags, ch)
	s.trimSystem()
	return id, err
}

// release refunds m's charge and drops its id; b (m's mailbox) is locked.
func (s *store) release(acct int, m *message) {
	s.mu.Lock()
	s.refundLocked(acct, m.ch)
	delete(s.live, m.id)
	s.mu.Unlock()
	m.ch = charge{}
}

// removeLocked removes message i of folder f of the locked mailbox b,
// tells the sessions watching f and refunds its charge.
func (s *store) removeLocked(b *mailbox, f *folder, i int) {
	m := f.msgs[i]
	f.msgs = slices.Delete(f.msgs, i, i+1)
	f.tracker.QueueExpunge(uint32(i + 1))
	s.release(b.acct.Index, m)
}

// owner finds which account holds message id, without opening anything.
func (s *store) owner(id int64) (*Account, bool) {
	if id > liveBase {
		s.mu.Lock()
		idx, ok := s.live[id]
		s.mu.Unlock()
		if !ok {
			return nil, false
		}
		return s.dir.Accounts[idx], true
	}
	if id < genBase {
		return nil, false
	}
	idx := int((id - genBase) / genPerAccount)
	if idx >= len(s.dir.Accounts) {
		return nil, false
	}
	return s.dir.Accounts[idx], true
}

// stored is a copy of one message, safe to use without the mailbox's lock.
type stored struct {
	ID     int64
	Owner  *Account
	Folder string
	Raw    []byte
	Date   time.Time
	Seen   bool
	Sum    summary
}

func copyOut(acct *Account, f *folder, m *message) stored {
	return stored{ID: m.id, Owner: acct, Folder: f.name, Raw: m.raw, Date: m.date, Seen: m.has(imap.FlagSeen), Sum: m.sum}
}

// message returns message id wherever it is stored. A generated message of
// a mailbox nobody opened yet is rebuilt without loading the mailbox, so that
// looking up ids cannot fill the memory with mailboxes.
func (s *store) message(id int64) (stored, bool) {
	acct, ok := s.owner(id)
	if !ok {
		return stored{}, false
	}
	b := &s.boxes[acct.Index]
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.loaded {
		for _, p := range b.pending {
			if p.m.id == id {
				return stored{ID: id, Owner: acct, Folder: p.folder, Raw: p.m.raw, Date: p.m.date, Seen: p.m.has(imap.FlagSeen), Sum: p.m.sum}, true
			}
		}
		if id > liveBase {
			return stored{}, false
		}
		for _, g := range s.gen.mailbox(acct, s.start) {
			if g.id == id {
				return stored{ID: id, Owner: acct, Folder: g.folder, Raw: g.raw, Date: g.date, Seen: g.flags[imap.FlagSeen], Sum: summarize(g.raw)}, true
			}
		}
		return stored{}, false
	}
	f, i, ok := b.byID(id)
	if !ok {
		return stored{}, false
	}
	return copyOut(acct, f, f.msgs[i]), true
}

// list returns the messages of acct's folder, newest first. A mailbox its
// owner never opened is listed without being built.
func (s *store) list(acct *Account, folderName string) ([]stored, error) {
	b := &s.boxes[acct.Index]
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.loaded {
		return s.listUnloaded(b, folderName)
	}
	f, ok := b.folder(folderName)
	if !ok {
		return nil, fmt.Errorf("%w: %s", errNoMailbox, folderName)
	}
	out := make([]stored, 0, len(f.msgs))
	for i := len(f.msgs) - 1; i >= 0; i-- {
		out = append(out, copyOut(acct, f, f.msgs[i]))
	}
	return out, nil
}

// listUnloaded lists a folder of the locked mailbox b that was never
// built: its generated mail and what was delivered since, newest first.
func (s *store) listUnloaded(b *mailbox, folderName string) ([]stored, error) {
	name, ok := standardFolder(folderName)
	if !ok {
		return nil, fmt.Errorf("%w: %s", errNoMailbox, folderName)
	}
	var out []stored
	for _, g := range s.gen.mailbox(b.acct, s.start) {
		if g.folder == name {
			out = append(out, stored{ID: g.id, Owner: b.acct, Folder: name, Raw: g.raw, Date: g.date, Seen: g.flags[imap.FlagSeen], Sum: summarize(g.raw)})
		}
	}
	for _, p := range b.pending {
		if p.folder == name {
			out = append(out, stored{ID: p.m.id, Owner: b.acct, Folder: name, Raw: p.m.raw, Date: p.m.date, Seen: p.m.has(imap.FlagSeen), Sum: p.m.sum})
		}
	}
	slices.Reverse(out)
	return out, nil
}

// folderNames returns acct's folders in display order.
func (s *store) folderNames(acct *Account) []string {
	b := &s.boxes[acct.Index]
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.loaded {
		out := make([]string, len(standardFolders))
		for i, sf := range standardFolders {
			out[i] = sf.name
		}
		return out
	}
	out := make([]string, len(b.folders))
	for i, f := range b.folders {
		out[i] = f.name
	}
	return out
}

// markSeen sets \Seen on message id of acct, as opening it in the webmail does.
func (s *store) markSeen(acct *Account, id int64) {
	b := s.lock(acct)
	defer b.mu.Unlock()
	f, i, ok := b.byID(id)
	if !ok {
		return
	}
	m := f.msgs[i]
	if !m.flags[imap.FlagSeen] {
		m.flags[imap.FlagSeen] = true
		f.tracker.QueueMessageFlags(uint32(i+1), m.uid, m.flagList(), nil)
	}
}

// canonicalFlag spells system flags one way, whatever case a client used.
func canonicalFlag(f imap.Flag) imap.Flag {
	for _, sys := range []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft} {
		if strings.EqualFold(string(f), string(sys)) {
			return sys
		}
	}
	return f
}
