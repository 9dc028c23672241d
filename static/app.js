// The public scoreboard: one websocket to /api/v1/live, a snapshot first,
// then delta, tick and event messages merged into it (PROTOCOLS.md §4).
// Each message after the snapshot carries the stream's next seq; on a gap
// or a closed socket the page reconnects with backoff and starts again
// from a fresh snapshot. Everything is drawn with textContent: team
// names come from the scenario and are never parsed as HTML.

const ROLE_ORDER = { both: 0, attack: 1, defence: 2 };
const ROLE_TITLE = {
  both: 'Tấn công & phòng thủ',
  attack: 'Đội tấn công',
  defence: 'Đội phòng thủ',
};
const PHASE_TEXT = {
  setup: 'Diễn tập chưa bắt đầu',
  paused: 'Diễn tập đang tạm dừng',
  ended: 'Diễn tập đã kết thúc — kết quả cuối cùng',
};
const ACTION_TEXT = {
  start: 'bắt đầu', pause: 'tạm dừng', resume: 'tiếp tục',
  freeze: 'đóng băng bảng điểm', end: 'kết thúc',
};
const RECENT_MAX = 50;
const BACKOFF_MIN = 500;
const BACKOFF_MAX = 15000;

const $ = (id) => document.getElementById(id);
const num = new Intl.NumberFormat('vi-VN', { maximumFractionDigits: 2 });
const pct = new Intl.NumberFormat('vi-VN', { style: 'percent', maximumFractionDigits: 1 });
const clock = new Intl.DateTimeFormat('vi-VN', { hour: '2-digit', minute: '2-digit', second: '2-digit' });

let view = null; // the merged board; null until a snapshot arrives
let seq = 0;
let socket = null;
let backoff = BACKOFF_MIN;
let retry = 0;
let drawPending = false;

function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}/api/v1/live`);
  socket = ws;
  ws.onmessage = (ev) => {
    if (ws !== socket) return;
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      restart();
      return;
    }
    receive(msg);
  };
  ws.onclose = () => {
    if (ws === socket) restart();
  };
  ws.onerror = () => ws.close();
}

// restart drops the socket and reconnects later; the next snapshot
// replaces whatever the page knew.
function restart() {
  const ws = socket;
  socket = null;
  if (ws) {
    ws.onclose = null;
    ws.close();
  }
  setConn(false);
  clearTimeout(retry);
  const wait = backoff * (0.75 + Math.random() / 2);
  backoff = Math.min(backoff * 2, BACKOFF_MAX);
  retry = setTimeout(connect, wait);
}

function receive(msg) {
  if (msg.type === 'snapshot') {
    view = normalise(msg);
    seq = msg.seq ?? 0;
    backoff = BACKOFF_MIN;
    setConn(true);
    draw();
    return;
  }
  if (!view) return;
  // seq counts this stream's messages: anything but the next one means
  // something was missed, and only a new snapshot can repair that.
  if (msg.seq !== seq + 1) {
    restart();
    return;
  }
  seq = msg.seq;
  merge(msg);
  draw();
}

function normalise(s) {
  return {
    phase: s.phase ?? 'setup',
    frozen: !!s.frozen,
    tick: s.tick ?? 0,
    tickEndsAt: s.tickEndsAt ?? null,
    teams: s.teams ?? [],
    services: s.services ?? [],
    standings: s.standings ?? [],
    status: s.status ?? {},
    recent: (s.recent ?? []).slice(-RECENT_MAX),
  };
}

// merge applies whatever a delta, tick or event message carries: its
// type names the most important part, not the only one.
function merge(d) {
  for (const k of ['phase', 'frozen', 'tick', 'tickEndsAt', 'teams', 'services']) {
    if (k in d) view[k] = d[k];
  }
  const same = (a, b) => (a.teamId !== undefined && b.teamId !== undefined ? a.teamId === b.teamId : a.team === b.team);
  for (const line of d.standings ?? []) {
    const i = view.standings.findIndex((s) => same(s, line));
    if (i >= 0) view.standings[i] = line;
    else view.standings.push(line);
  }
  view.standings.sort((a, b) =>
    (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9) || (a.rank ?? 0) - (b.rank ?? 0));
  for (const [team, services] of Object.entries(d.status ?? {})) {
    view.status[team] = { ...(view.status[team] ?? {}), ...services };
  }
  if (d.recent) addRecent(d.recent);
  if (d.events) addRecent(d.events);
}

function addRecent(items) {
  // A capture and its first blood share a seq: the kind tells them apart.
  const key = (it) => `${it.seq}/${it.kind}`;
  const seen = new Set(view.recent.map(key));
  for (const it of items) {
    if (it && !seen.has(key(it))) view.recent.push(it);
  }
  view.recent = view.recent.slice(-RECENT_MAX);
}

// draw coalesces bursts of messages into one repaint per frame.
function draw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    drawBanner();
    drawBoards();
    drawMatrix();
    drawTicker();
    drawClock();
  });
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function setConn(live) {
  const c = $('conn');
  c.textContent = live ? 'Trực tiếp' : 'Đang kết nối lại…';
  c.className = live ? 'conn conn-live' : 'conn conn-wait';
}

function drawBanner() {
  const b = $('banner');
  let text = PHASE_TEXT[view.phase] ?? '';
  let cls = view.phase === 'ended' ? 'banner ended' : 'banner';
  if (view.frozen && view.phase !== 'ended') {
    text = 'Bảng điểm đã đóng băng: điểm số không còn cập nhật công khai cho đến khi kết thúc'
      + (view.phase === 'paused' ? ' (đang tạm dừng)' : '');
    cls = 'banner frozen';
  }
  b.textContent = text;
  b.className = cls;
  b.hidden = text === '';
}

function drawBoards() {
  const box = $('boards');
  const groups = new Map();
  for (const s of view.standings) {
    if (!groups.has(s.role)) groups.set(s.role, []);
    groups.get(s.role).push(s);
  }
  const roles = [...groups.keys()].sort((a, b) => (ROLE_ORDER[a] ?? 9) - (ROLE_ORDER[b] ?? 9));
  const out = [];
  for (const role of roles) {
    const t = el('table', 'board');
    if (roles.length > 1) t.append(el('caption', '', ROLE_TITLE[role] ?? role));
    const head = el('tr');
    for (const [h, cls] of [['Hạng', ''], ['Đội', 'name'], ['Tổng', ''], ['Tấn công', ''],
      ['Phòng thủ', ''], ['Khả dụng', '']]) {
      const th = el('th', cls, h);
      th.scope = 'col';
      head.append(th);
    }
    const thead = el('thead');
    thead.append(head);
    t.append(thead);
    const body = el('tbody');
    for (const s of groups.get(role)) {
      const attacks = s.role === 'attack' || s.role === 'both';
      const defends = s.role === 'defence' || s.role === 'both';
      const tr = el('tr');
      tr.append(
        el('td', 'rank', String(s.rank ?? '')),
        el('td', 'name', s.team),
        el('td', 'total', num.format(s.total ?? 0)),
        el('td', '', attacks ? num.format(s.attack ?? 0) : '–'),
        el('td', '', defends ? num.format(s.defence ?? 0) : '–'),
        el('td', '', defends ? pct.format(s.availability ?? 0) : '–'),
      );
      body.append(tr);
    }
    t.append(body);
    out.push(t);
  }
  if (out.length === 0) out.push(el('p', 'empty', 'Chưa có đội nào.'));
  box.replaceChildren(...out);
}

function drawMatrix() {
  const t = $('matrix');
  const owners = view.teams.map((t) => t.name).filter((n) => n in view.status);
  for (const n of Object.keys(view.status)) if (!owners.includes(n)) owners.push(n);
  if (owners.length === 0) {
    t.replaceChildren(el('caption', 'empty', 'Chưa có kết quả kiểm tra.'));
    return;
  }
  const head = el('tr');
  head.append(el('th', 'name', 'Đội'));
  for (const s of view.services) {
    const th = el('th', '', s.title || s.name);
    th.scope = 'col';
    head.append(th);
  }
  const body = el('tbody');
  for (const owner of owners) {
    const tr = el('tr');
    const th = el('th', 'name', owner);
    th.scope = 'row';
    tr.append(th);
    for (const s of view.services) {
      const st = view.status[owner]?.[s.name] ?? 'UNKNOWN';
      const td = el('td');
      const badge = el('span', `st st-${/^[A-Z_]+$/.test(st) ? st : 'UNKNOWN'}`, st === 'UNKNOWN' ? 'chưa kiểm tra' : st);
      td.append(badge);
      tr.append(td);
    }
    body.append(tr);
  }
  const thead = el('thead');
  thead.append(head);
  t.replaceChildren(thead, body);
}

function tickerText(it) {
  switch (it.kind) {
    case 'capture': return `${it.team} lấy được cờ ${it.service} của ${it.target}`;
    case 'first_blood': return `Giọt máu đầu tiên: ${it.team} lấy cờ ${it.service}/${it.text} của ${it.target}`;
    case 'service_down': return `${it.service} của ${it.target} gặp sự cố (${it.text})`;
    case 'service_up': return `${it.service} của ${it.target} hoạt động trở lại`;
    case 'detection': return `${it.team} phát hiện đúng một cuộc tấn công vào ${it.service}`;
    case 'phase': return `Diễn tập: ${ACTION_TEXT[it.text] ?? it.text}`;
  }
  return [it.kind, it.team, it.service, it.text].filter(Boolean).join(' · ');
}

function drawTicker() {
  const items = view.recent.slice(-30).reverse().map((it) => {
    const li = el('li', it.kind);
    const when = el('time', '', it.time ? clock.format(new Date(it.time)) : '');
    if (it.time) when.dateTime = it.time;
    li.append(when, el('span', '', tickerText(it)));
    if (it.points) li.append(el('span', 'pts', `+${num.format(it.points)}`));
    return li;
  });
  if (items.length === 0) items.push(el('li', 'empty', 'Chưa có diễn biến.'));
  $('ticker').replaceChildren(...items);
}

function drawClock() {
  if (!view) return;
  $('tick').textContent = view.tick ? String(view.tick) : '–';
  let left = '–';
  if (view.phase === 'running' && view.tickEndsAt) {
    const ms = Math.max(0, Date.parse(view.tickEndsAt) - Date.now());
    const s = Math.ceil(ms / 1000);
    left = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }
  $('countdown').textContent = left;
}

setInterval(drawClock, 500);
connect();
