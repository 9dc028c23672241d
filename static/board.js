// The board as the streams describe it, and the pieces every page draws
// from it: standings with their rank moves, the service status matrix with
// its tick-by-tick strips, the event ticker and the tick clock.

import { h, statusBadge } from './dom.js';
import { t, fmtNum, fmtPct, fmtSigned, fmtTime } from './i18n.js';

export const ROLE_ORDER = { both: 0, attack: 1, defence: 2 };
const RECENT_MAX = 60;
const MOVE_SHOWN_MS = 12000;

export const attacks = (role) => role === 'attack' || role === 'both';
export const defends = (role) => role === 'defence' || role === 'both';
const narrow = window.matchMedia('(max-width: 600px)');
const reducedMotion = () => window.matchMedia('(prefers-reduced-motion: reduce)').matches;

// normalise turns a snapshot into the board the page keeps.
export function normalise(s) {
  return {
    team: s.team ?? '',
    phase: s.phase ?? 'setup',
    frozen: !!s.frozen,
    tick: s.tick ?? 0,
    tickEndsAt: s.tickEndsAt ?? null,
    teams: s.teams ?? [],
    services: s.services ?? [],
    standings: sortStandings(s.standings ?? []),
    status: s.status ?? {},
    recent: (s.recent ?? []).slice(-RECENT_MAX),
    skipped: 0,
  };
}

function sortStandings(st) {
  return st.sort((a, b) => (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9) || (a.rank ?? 0) - (b.rank ?? 0));
}

// merge applies whatever a delta, tick or event message carries: its type
// names the most important part, not the only one. tickEnded(tick, status)
// is called with the statuses as they were at the end of a tick, before
// the message's own changes.
export function merge(view, d, tickEnded) {
  if (tickEnded && typeof d.tick === 'number' && d.tick > view.tick && view.tick > 0) {
    tickEnded(view.tick, view.status);
  }
  for (const k of ['phase', 'frozen', 'tick', 'tickEndsAt', 'teams', 'services']) {
    if (k in d) view[k] = d[k];
  }
  for (const line of d.standings ?? []) {
    const i = view.standings.findIndex((s) => s.teamId === line.teamId);
    if (i >= 0) view.standings[i] = line;
    else view.standings.push(line);
  }
  sortStandings(view.standings);
  for (const [team, services] of Object.entries(d.status ?? {})) {
    view.status[team] = { ...(view.status[team] ?? {}), ...services };
  }
  if (d.events) addRecent(view, d.events);
  if (d.skipped) view.skipped += d.skipped;
  return d.events ?? [];
}

// addRecent appends items not seen yet; a capture and its first blood
// share a seq, so the kind is part of the key.
export function addRecent(view, items) {
  const key = (it) => `${it.seq}/${it.kind}`;
  const seen = new Set(view.recent.map(key));
  for (const it of items) {
    if (it && !seen.has(key(it))) view.recent.push(it);
  }
  view.recent = view.recent.slice(-RECENT_MAX);
}

export function serviceTitle(view, name) {
  const s = view.services.find((x) => x.name === name);
  return s?.title || name || '';
}

// Standings keeps what a table needs to show moves between renders.
export class Standings {
  constructor(box) {
    this.box = box;
    this.prev = new Map(); // teamId → {rank, total}
    this.moves = new Map(); // teamId → {delta, until}
    this.timer = 0;
  }

  render(view, opts = {}) {
    const now = Date.now();
    // A phone has room for the main columns only.
    if (opts.compact === undefined) opts = { ...opts, compact: narrow.matches };
    for (const s of view.standings) {
      const p = this.prev.get(s.teamId);
      if (p && p.rank !== s.rank && p.role === s.role) this.moves.set(s.teamId, { delta: p.rank - s.rank, until: now + MOVE_SHOWN_MS });
    }
    const before = positions(this.box);
    const groups = new Map();
    for (const s of view.standings) {
      if (!groups.has(s.role)) groups.set(s.role, []);
      groups.get(s.role).push(s);
    }
    const roles = [...groups.keys()].sort((a, b) => (ROLE_ORDER[a] ?? 9) - (ROLE_ORDER[b] ?? 9));
    const tables = roles.map((role) => this.table(role, groups.get(role), roles.length > 1, opts));
    if (tables.length === 0) tables.push(h('p', { class: 'empty', text: t('board.noTeams') }));
    this.box.replaceChildren(...tables);
    animateMoves(this.box, before);
    const changed = new Set();
    for (const s of view.standings) {
      const p = this.prev.get(s.teamId);
      if (p && p.total !== s.total) changed.add(String(s.teamId));
      this.prev.set(s.teamId, { rank: s.rank, total: s.total, role: s.role });
    }
    for (const tr of this.box.querySelectorAll('tr[data-key]')) {
      if (changed.has(tr.dataset.key)) tr.classList.add('bump');
    }
    // Forget moves once shown long enough, and draw again without them.
    clearTimeout(this.timer);
    let next = Infinity;
    for (const [id, m] of this.moves) {
      if (m.until <= now) this.moves.delete(id);
      else next = Math.min(next, m.until);
    }
    if (next !== Infinity) this.timer = setTimeout(() => this.render(view, opts), next - now + 50);
  }

  table(role, lines, caption, opts) {
    const cols = columns(role, opts.compact);
    const head = h('tr', null, cols.map((c) => h('th', { scope: 'col', class: c.cls, text: t(c.head) })));
    const body = h('tbody', null, lines.map((s) => {
      const m = this.moves.get(s.teamId);
      return h('tr', {
        dataset: { key: String(s.teamId), team: s.team, rank: String(s.rank), total: String(s.total) },
        class: s.team === opts.highlight ? 'me' : undefined,
      }, cols.map((c) => c.cell(s, m)));
    }));
    return h('div', { class: 'board-wrap' }, h('table', { class: `board board-${role}` },
      caption ? h('caption', { text: t(`role.${role}`) }) : null,
      h('thead', null, head), body));
  }
}

function rankCell(s, m) {
  const td = h('td', { class: 'rank' }, h('span', { class: 'rank-n', text: String(s.rank ?? '') }));
  if (m && m.delta !== 0) {
    const up = m.delta > 0;
    const n = Math.abs(m.delta);
    td.append(h('span', { class: up ? 'move up' : 'move down', title: t(up ? 'rank.up' : 'rank.down', { n }) },
      h('span', { 'aria-hidden': 'true', text: `${up ? '▲' : '▼'}${n}` }),
      h('span', { class: 'sr', text: t(up ? 'rank.up' : 'rank.down', { n }) })));
  }
  return td;
}

function num(v, sub, cls = '') {
  return h('td', { class: `num ${cls}` }, h('span', { text: v }), sub ? h('small', { text: sub }) : null);
}

// columns lists a role's columns: every category apart, nothing hidden in
// the total alone.
function columns(role, compact) {
  const rank = { head: 'col.rank', cls: 'rank', cell: rankCell };
  const team = { head: 'col.team', cls: 'name', cell: (s) => h('td', { class: 'name', text: s.team }) };
  const total = { head: 'col.total', cls: 'num', cell: (s) => num(fmtNum(s.total), '', 'total') };
  const attack = { head: 'col.attack', cls: 'num', cell: (s) => num(fmtNum(s.attack), t('col.captures') + ' ' + fmtNum(s.captures, 0)) };
  const caps = { head: 'col.captures', cls: 'num', cell: (s) => num(fmtNum(s.captures, 0)) };
  const fb = { head: 'col.firstBloods', cls: 'num', cell: (s) => num(fmtNum(s.firstBloods, 0)) };
  const avail = { head: 'col.availability', cls: 'num', cell: (s) => num(fmtNum(s.sla), fmtPct(s.availability)) };
  const lost = { head: 'col.lost', cls: 'num', cell: (s) => num(fmtSigned(-s.lost), `${fmtNum(s.flagsLost, 0)} ⚑`, 'neg') };
  const prot = { head: 'col.protected', cls: 'num', cell: (s) => num(fmtSigned(s.protected), `${fmtNum(s.flagsProtected, 0)} ⚑`, 'pos') };
  const det = { head: 'col.detection', cls: 'num', cell: (s) => num(fmtSigned(s.detection)) };
  switch (role) {
    case 'attack':
      return compact ? [rank, team, total, caps] : [rank, team, total, caps, fb];
    case 'defence':
      return compact ? [rank, team, total, avail] : [rank, team, total, avail, lost, prot, det];
  }
  return compact ? [rank, team, total, attack] : [rank, team, total, attack, avail, lost, prot, det];
}

function positions(box) {
  const out = new Map();
  for (const tr of box.querySelectorAll('tr[data-key]')) out.set(tr.dataset.key, tr.getBoundingClientRect().top);
  return out;
}

// animateMoves slides each row from where it was to where it is now.
function animateMoves(box, before) {
  if (reducedMotion() || before.size === 0) return;
  for (const tr of box.querySelectorAll('tr[data-key]')) {
    const old = before.get(tr.dataset.key);
    if (old === undefined) continue;
    const dy = old - tr.getBoundingClientRect().top;
    if (Math.abs(dy) < 1) continue;
    tr.animate([{ transform: `translateY(${dy}px)` }, { transform: 'none' }],
      { duration: 700, easing: 'cubic-bezier(.2,.8,.2,1)' });
  }
}

// StatusHistory remembers each replica's status tick by tick: seeded from
// /api/v1/history, then completed from the stream at every tick's end.
export class StatusHistory {
  constructor() {
    this.cells = new Map(); // "team\u0000service" → Map(tick → status)
  }

  key(team, svc) {
    return `${team}\u0000${svc}`;
  }

  set(team, svc, tick, status) {
    const k = this.key(team, svc);
    if (!this.cells.has(k)) this.cells.set(k, new Map());
    this.cells.get(k).set(tick, status);
  }

  seed(status) {
    for (const [team, row] of Object.entries(status ?? {})) {
      for (const [svc, list] of Object.entries(row ?? {})) {
        for (const e of list ?? []) this.set(team, svc, e.tick, e.status);
      }
    }
  }

  // tickEnded records the statuses a tick ended with, unless the server's
  // history already said.
  tickEnded(tick, status) {
    for (const [team, row] of Object.entries(status ?? {})) {
      for (const [svc, st] of Object.entries(row ?? {})) {
        const m = this.cells.get(this.key(team, svc));
        if (!m || !m.has(tick)) this.set(team, svc, tick, st);
      }
    }
  }

  // last returns up to n entries ending at tick `upTo`, oldest first.
  last(team, svc, n, upTo) {
    const m = this.cells.get(this.key(team, svc));
    const out = [];
    for (let tick = Math.max(1, upTo - n + 1); tick <= upTo; tick++) {
      out.push({ tick, status: m?.get(tick) ?? null });
    }
    return out;
  }
}

// strip draws a row of small cells, one per tick; each cell's pattern,
// not only its colour, tells its status, and the row reads as text.
export function strip(entries) {
  const counts = {};
  const cells = entries.map((e) => {
    const st = e.status ?? 'UNKNOWN';
    if (e.status) counts[st] = (counts[st] ?? 0) + 1;
    return h('span', { class: `tk tk-${st}`, title: t('strip.tick', { tick: e.tick, status: e.status ?? t('status.UNKNOWN') }) });
  });
  const summary = Object.entries(counts).map(([k, n]) => `${k} ×${n}`).join(', ') || t('status.UNKNOWN');
  return h('span', { class: 'strip', role: 'img', 'aria-label': t('strip.label', { summary }) }, cells);
}

// renderMatrix draws team × service with the current status as a badge
// and the recent ticks as a strip.
export function renderMatrix(table, view, hist, n = 12) {
  const owners = view.teams.map((x) => x.name).filter((name) => name in view.status);
  for (const name of Object.keys(view.status)) if (!owners.includes(name)) owners.push(name);
  if (owners.length === 0) {
    table.replaceChildren(h('caption', { class: 'empty', text: t('board.noChecks') }));
    return;
  }
  const head = h('tr', null, h('th', { scope: 'col', class: 'name', text: t('col.team') }),
    view.services.map((s) => h('th', { scope: 'col', text: s.title || s.name })));
  const body = h('tbody', null, owners.map((owner) => h('tr', { dataset: { team: owner } },
    h('th', { scope: 'row', class: 'name', text: owner }),
    view.services.map((s) => {
      const st = view.status[owner]?.[s.name];
      const entries = hist ? hist.last(owner, s.name, n, view.tick) : [];
      if (entries.length && st && !entries[entries.length - 1].status) entries[entries.length - 1].status = st;
      return h('td', { dataset: { service: s.name } }, statusBadge(st), entries.length ? strip(entries) : null);
    }))));
  table.replaceChildren(h('thead', null, head), body);
}

const KIND_ICON = {
  capture: '⚑', first_blood: '★', service_down: '▼', service_up: '▲', detection: '◆', phase: '■', log: '·',
};

export function tickerText(view, it) {
  const service = serviceTitle(view, it.service);
  switch (it.kind) {
    case 'capture':
      return t('ticker.capture', { team: it.team, service, target: it.target });
    case 'first_blood':
      return t('ticker.first_blood', { team: it.team, service, store: it.text, target: it.target });
    case 'service_down':
      return t('ticker.service_down', { service, target: it.target, status: it.text });
    case 'service_up':
      return t('ticker.service_up', { service, target: it.target });
    case 'detection':
      if (it.text) return t('ticker.verdict', { service, verdict: t(`verdict.${it.text}`) });
      return t('ticker.detection', { team: it.team, service });
    case 'phase':
      return t('ticker.phase', { action: t(`action.${it.text}`) });
  }
  return [it.kind, it.team, service, it.text].filter(Boolean).join(' · ');
}

// tickerSpan sets the acting team in bold, so a reader finds it first.
function tickerSpan(text, team) {
  const i = team ? text.indexOf(team) : -1;
  if (i < 0) return h('span', { class: 'txt', text });
  return h('span', { class: 'txt' }, text.slice(0, i), h('strong', { text: team }), text.slice(i + team.length));
}

// renderTicker draws the newest items first; items new since the last
// render slide in.
export function renderTicker(list, view, opts = {}) {
  const max = opts.max ?? 30;
  const seen = new Set([...list.querySelectorAll('li[data-key]')].map((li) => li.dataset.key));
  const items = view.recent.filter((it) => it.kind !== 'log' && (!opts.filter || opts.filter(it))).slice(-max).reverse();
  const lis = items.map((it) => {
    const key = `${it.seq}/${it.kind}`;
    const li = h('li', { class: `ev ev-${it.kind}${seen.size && !seen.has(key) ? ' fresh' : ''}`, dataset: { key, kind: it.kind } },
      h('time', { datetime: it.time, text: fmtTime(it.time) }),
      h('span', { class: 'ico', 'aria-hidden': 'true', text: KIND_ICON[it.kind] ?? '•' }),
      tickerSpan(tickerText(view, it), it.team),
      it.points ? h('span', { class: it.points < 0 ? 'pts neg' : 'pts', text: fmtSigned(it.points) }) : null);
    return li;
  });
  if (view.skipped) lis.push(h('li', { class: 'ev muted', text: t('ticker.skipped', { n: view.skipped }) }));
  if (lis.length === 0) lis.push(h('li', { class: 'empty', text: t('board.noEvents') }));
  list.replaceChildren(...lis);
}

// clockText returns the time left in the tick as m:ss and the fraction
// of the tick gone, or null when no tick runs.
export function clockState(view, tickSeconds) {
  if (view.phase !== 'running' || !view.tickEndsAt) return null;
  const ms = Math.max(0, Date.parse(view.tickEndsAt) - Date.now());
  const sec = Math.ceil(ms / 1000);
  const len = (tickSeconds || 60) * 1000;
  return { text: `${Math.floor(sec / 60)}:${String(sec % 60).padStart(2, '0')}`, done: Math.min(1, Math.max(0, 1 - ms / len)) };
}

// bannerText says what the audience must know about the phase, or ''.
export function bannerText(view) {
  if (view.frozen && view.phase !== 'ended') return { text: t(view.phase === 'paused' ? 'banner.frozen.paused' : 'banner.frozen'), cls: 'frozen' };
  if (view.phase === 'running') return { text: '', cls: '' };
  return { text: t(`banner.${view.phase}`), cls: view.phase };
}
