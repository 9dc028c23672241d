// The war room: the defended systems in the middle, the attack teams on a
// ring around them, and an arc for every capture as it happens. Recent
// captures stay as faint trails, so a wall screen shows who hits whom at a
// glance; the standings and the ticker frame the map.

import { $, s, setupChrome, setConn } from './dom.js';
import { t, initLang, onLangChange, scenario, fmtNum } from './i18n.js';
import { LiveStream } from './stream.js';
import { normalise, merge, Standings, renderTicker, clockState, bannerText, attacks, defends, serviceTitle } from './board.js';

const TRAILS = 14;
const reducedMotion = () => window.matchMedia('(prefers-reduced-motion: reduce)').matches;

let view = null;
let scoring = null;
let layout = null; // {W, H, nodes: Map(name → {x, y, r, el})}
let trails = []; // recent captures: {team, target, first}
let drawPending = false;
let pendingEvents = [];
const standings = new Standings($('boards'));

const stream = new LiveStream('/api/v1/live', {
  state: setConn,
  snapshot(msg) {
    view = normalise(msg);
    trails = view.recent.filter((it) => it.kind === 'capture').slice(-TRAILS)
      .map((it) => ({ team: it.team, target: it.target, first: false }));
    layout = null;
    draw();
  },
  message(msg) {
    const events = merge(view, msg);
    if (msg.teams) layout = null;
    draw(events);
  },
});

// draw repaints once per frame; the arcs of every capture heard since
// the last frame fly in it.
function draw(events = []) {
  if (!view) return;
  pendingEvents.push(...events);
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    drawBanner();
    standings.render(view, { compact: true });
    renderTicker($('ticker'), view, { max: 25 });
    drawMap();
    drawClock();
    fire(pendingEvents.splice(0));
  });
}

function drawBanner() {
  const b = $('banner');
  const { text, cls } = bannerText(view);
  b.textContent = text;
  b.className = `banner ${cls}`;
  b.hidden = text === '';
}

function drawClock() {
  if (!view) return;
  $('tick').textContent = view.tick ? String(view.tick) : '–';
  const c = clockState(view, scoring?.tickSeconds);
  $('countdown').textContent = c ? c.text : '–';
  $('tick-progress').value = c ? c.done : 0;
  $('phase').textContent = t(`phase.${view.phase}`);
  $('phase').dataset.phase = view.phase;
}

// place puts the defending-only teams in the middle and every team that
// attacks on the ring; a classic game (role both) has everyone on the ring.
function place(W, H) {
  const cx = W / 2;
  const cy = H / 2;
  const R = Math.max(80, Math.min(W, H) / 2 - 70);
  const ring = view.teams.filter((x) => attacks(x.role));
  const core = view.teams.filter((x) => !attacks(x.role) && defends(x.role));
  const nodes = new Map();
  ring.forEach((x, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, ring.length);
    nodes.set(x.name, { x: cx + R * Math.cos(a), y: cy + R * Math.sin(a), r: ring.length > 14 ? 24 : 30, ring: true, role: x.role, angle: a });
  });
  const inner = core.length > 1 ? Math.min(R * 0.38, 150) : 0;
  core.forEach((x, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / core.length;
    nodes.set(x.name, { x: cx + inner * Math.cos(a), y: cy + inner * Math.sin(a), r: core.length > 1 ? 52 : 78, ring: false, role: x.role });
  });
  return { W, H, cx, cy, R, nodes, fresh: true };
}

function drawMap() {
  const svg = $('war');
  const box = $('war-box').getBoundingClientRect();
  // A small box draws the map as a 720-pixel one, scaled down: smaller
  // text, but nothing on top of anything else.
  const k = Math.max(1, 720 / Math.max(1, Math.min(box.width, box.height)));
  const W = Math.round(Math.max(1, box.width) * k);
  const H = Math.round(Math.max(1, box.height) * k);
  if (!layout || layout.W !== W || layout.H !== H || layout.nodes.size !== view.teams.length) layout = place(W, H);
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const { cx, cy, R, nodes } = layout;
  const kids = [s('circle', { class: 'ring', cx, cy, r: R })];
  for (const n of nodes.values()) if (n.ring) kids.push(s('line', { class: 'spoke', x1: cx, y1: cy, x2: n.x, y2: n.y }));
  const trailLayer = s('g', { class: 'trails' });
  for (const tr of trails) {
    const p = arcPath(tr.team, tr.target);
    if (p) trailLayer.append(s('path', { class: 'trail', d: p }));
  }
  kids.push(trailLayer);
  const byTeam = new Map(view.standings.map((x) => [x.team, x]));
  for (const [name, n] of nodes) {
    const st = byTeam.get(name);
    if (n.ring) kids.push(ringNode(name, n, st));
    else kids.push(coreNode(name, n, st));
  }
  // The map is redrawn at every message; arcs in flight live in their own
  // layer on top, which only a new layout clears.
  let map = $('map');
  let arcs = $('arcs');
  if (!map || layout.fresh) {
    map = s('g', { id: 'map' });
    arcs = s('g', { id: 'arcs' });
    svg.replaceChildren(map, arcs);
    layout.fresh = false;
  }
  map.replaceChildren(...kids);
  for (const [name, n] of nodes) n.el = map.querySelector(`[data-team="${CSS.escape(name)}"]`);
}

function ringNode(name, n, st) {
  // Labels go outward, away from the arcs in the middle.
  const below = Math.sin(n.angle) > -0.2;
  const ly = below ? n.y + n.r + 18 : n.y - n.r - 26;
  return s('g', { class: 'node attacker', dataset: { team: name } },
    s('circle', { cx: n.x, cy: n.y, r: n.r }),
    s('text', { class: 'rank', x: n.x, y: n.y, text: st ? `#${st.rank}` : '' }),
    s('text', { class: 'label', x: n.x, y: ly, text: name }),
    s('text', { class: 'score', x: n.x, y: ly + 16, text: st ? fmtNum(st.total) : '' }));
}

function coreNode(name, n, st) {
  const g = s('g', { class: 'core', dataset: { team: name } },
    s('circle', { class: 'halo', cx: n.x, cy: n.y, r: n.r * 1.9 }),
    s('circle', { class: 'inner', cx: n.x, cy: n.y, r: n.r }),
    s('text', { class: 'sub', x: n.x, y: n.y - 14, text: t('war.defended').toUpperCase() }),
    s('text', { class: 'name', x: n.x, y: n.y + 10, text: name }));
  if (st) g.append(s('text', { class: 'sub', x: n.x, y: n.y + 32, text: fmtNum(st.total) }));
  // One badge per service, below the node: the service's name, then its
  // status in words.
  view.services.forEach((svc, i) => {
    const status = view.status[name]?.[svc.name] ?? 'UNKNOWN';
    const y = n.y + n.r + 22 + i * 24;
    const label = status === 'UNKNOWN' ? t('status.unknownShort') : status === 'INTERNAL_ERROR' ? 'CHECKER ERROR' : status;
    g.append(s('g', { class: `badge st-${status}`, dataset: { service: svc.name, status } },
      s('text', { class: 'svc', x: n.x - 6, y, text: serviceTitle(view, svc.name) }),
      s('rect', { class: `st-${status}`, x: n.x, y: y - 10, width: 112, height: 20, rx: 4 }),
      s('text', { class: 'code', x: n.x + 56, y, text: label })));
  });
  return g;
}

// arcPath is a curve from the attacker to the target, bent to one side so
// that arcs in both directions stay apart.
function arcPath(from, to) {
  const a = layout?.nodes.get(from);
  const b = layout?.nodes.get(to);
  if (!a || !b) return null;
  const mx = (a.x + b.x) / 2;
  const my = (a.y + b.y) / 2;
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  const bend = len * 0.22;
  const qx = mx - (dy / len) * bend;
  const qy = my + (dx / len) * bend;
  const ex = b.x - (dx / len) * b.r * 0.9;
  const ey = b.y - (dy / len) * b.r * 0.9;
  return `M${a.x.toFixed(1)},${a.y.toFixed(1)} Q${qx.toFixed(1)},${qy.toFixed(1)} ${ex.toFixed(1)},${ey.toFixed(1)}`;
}

// fire draws the arcs of new captures and flashes their targets.
function fire(events) {
  const layer = $('arcs');
  if (!layer || !layout) return;
  const byCapture = new Map();
  for (const it of events) {
    if (it.kind === 'capture' || it.kind === 'first_blood') {
      const key = `${it.seq}`;
      const prev = byCapture.get(key);
      byCapture.set(key, { team: it.team, target: it.target, first: (prev?.first ?? false) || it.kind === 'first_blood' });
    }
  }
  let delay = 0;
  for (const c of byCapture.values()) {
    trails.push({ ...c, first: false });
    if (trails.length > TRAILS) trails.shift();
    const d = arcPath(c.team, c.target);
    if (!d) continue;
    const path = s('path', { class: c.first ? 'arc first' : 'arc', d });
    layer.append(path);
    const b = layout.nodes.get(c.target);
    if (reducedMotion()) {
      setTimeout(() => path.remove(), 4000);
      continue;
    }
    const len = path.getTotalLength();
    path.style.strokeDasharray = `${len}`;
    path.animate([{ strokeDashoffset: len }, { strokeDashoffset: 0 }], { duration: 900, delay, easing: 'ease-in', fill: 'both' });
    path.animate([{ opacity: 1 }, { opacity: 0 }], { duration: 3000, delay: delay + 1600, fill: 'forwards' }).onfinish = () => path.remove();
    // The hit: a ring that spreads from the target when the arc lands.
    const pulse = s('circle', { class: c.first ? 'pulse first' : 'pulse', cx: b.x, cy: b.y, r: b.r });
    layer.append(pulse);
    pulse.animate([{ opacity: 0, transform: 'scale(1)' }, { opacity: 0.9, transform: 'scale(1)', offset: 0.01 }, { opacity: 0, transform: 'scale(1.8)' }],
      { duration: 1400, delay: delay + 900, fill: 'both' }).onfinish = () => pulse.remove();
    if (c.first) {
      const a = layout.nodes.get(c.team);
      const label = s('text', { class: 'fb-label', x: a.x, y: a.y - a.r - 44, text: t('war.firstBlood') });
      layer.append(label);
      label.animate([{ opacity: 0 }, { opacity: 1, offset: 0.15 }, { opacity: 1, offset: 0.8 }, { opacity: 0 }], { duration: 5000, delay }).onfinish = () => label.remove();
    }
    delay += 150;
  }
}

async function main() {
  setupChrome();
  await initLang();
  onLangChange(() => {
    layout = null;
    draw();
  });
  scoring = await scenario();
  if (scoring?.title) $('exercise').textContent = scoring.title;
  $('fullscreen').addEventListener('click', () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else document.documentElement.requestFullscreen?.();
  });
  new ResizeObserver(() => {
    layout = null;
    draw();
  }).observe($('war-box'));
  stream.start();
  setInterval(drawClock, 500);
}

main();
