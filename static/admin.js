// The organizer console: phase controls behind a confirmation, the real
// (never frozen) board and every event from /api/v1/admin/live, the teams'
// tokens with a CSV to hand out, the range's health, and the exports.
// Only the organizer's session opens its routes; a team that comes here
// is told so and shown nothing.

import { $, h, api, setupChrome, setConn } from './dom.js';
import { t, initLang, onLangChange, scenario, fmtTime, fmtDateTime, fmtDuration } from './i18n.js';
import { LiveStream } from './stream.js';
import { normalise, merge, Standings, renderTicker, clockState, serviceTitle } from './board.js';
import { me as whoami, setupLogin, setupLogout } from './session.js';

let me = null;
let view = null;
let scoring = null;
let teams = null;
let range = null;
let suspects = null;
let showTokens = false;
let drawPending = false;
const standings = new Standings($('boards'));

const stream = new LiveStream('/api/v1/admin/live', {
  state: setConn,
  snapshot(msg) {
    view = normalise(msg);
    draw();
  },
  message(msg) {
    // A new tick may settle captures: the suspects may have changed.
    if (msg.type === 'tick' && msg.tick !== view.tick) loadSuspects();
    merge(view, msg);
    draw();
  },
});

function draw() {
  if (drawPending || !view) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    standings.render(view);
    renderTicker($('ticker'), view, { max: 60 });
    renderPhase();
    renderClock();
  });
}

function renderClock() {
  if (!view) return;
  $('tick').textContent = view.tick ? String(view.tick) : '–';
  const c = clockState(view, scoring?.tickSeconds);
  $('countdown').textContent = c ? c.text : '–';
  $('phase').textContent = t(`phase.${view.phase}`);
  $('phase').dataset.phase = view.phase;
}

// allowed mirrors the game's phase machine, so that only buttons the
// server would accept are enabled; the server still decides.
function allowed(action) {
  const p = view?.phase;
  switch (action) {
    case 'start': return p === 'setup';
    case 'pause': return p === 'running';
    case 'resume': return p === 'paused';
    case 'freeze': return (p === 'running' || p === 'paused') && !view.frozen;
    case 'end': return p === 'running' || p === 'paused';
  }
  return false;
}

function renderPhase() {
  if (!view) return;
  const now = t(`phase.${view.phase}`) + (view.frozen ? ` · ${t('admin.frozen')}` : '');
  $('phase-now').textContent = t('admin.phaseNow', { phase: now });
  for (const b of $('phase-buttons').querySelectorAll('button[data-action]')) b.disabled = !allowed(b.dataset.action);
}

async function act(action) {
  const dlg = $('confirm');
  $('confirm-text').textContent = t(`admin.confirm.${action}`);
  dlg.returnValue = '';
  dlg.showModal();
  $('confirm-cancel').focus();
  await new Promise((resolve) => dlg.addEventListener('close', resolve, { once: true }));
  if (dlg.returnValue !== 'ok') return;
  const out = $('phase-result');
  const r = await api('POST', '/api/v1/admin/phase', { action });
  out.hidden = false;
  if (r.ok) {
    out.className = 'alert ok';
    out.textContent = t('admin.phaseDone', { phase: t(`phase.${r.data.phase}`) + (r.data.frozen ? ` · ${t('admin.frozen')}` : '') });
  } else {
    out.className = 'alert error';
    out.textContent = t('admin.phaseError', { status: r.status, error: r.error });
  }
}

async function loadTeams() {
  teams = await api('GET', '/api/v1/admin/teams');
  renderTeams();
}

function renderTeams() {
  const table = $('tokens-table');
  if (!teams) return;
  if (!teams.ok) {
    table.replaceChildren(h('caption', { class: 'alert error', text: t('admin.loadError', { status: teams.status, error: teams.error }) }));
    return;
  }
  const mask = (tok) => (showTokens ? tok : '•'.repeat(12));
  table.replaceChildren(
    h('thead', null, h('tr', null, ['col.team', 'col.role', 'admin.token'].map((k) => h('th', { scope: 'col', text: t(k) })))),
    h('tbody', null, [
      h('tr', null, h('td', { text: t('role.organizer') }), h('td', null, h('span', { class: 'role-pill', text: 'organizer' })),
        h('td', { class: 'mono', text: mask(teams.data.organizer) })),
      ...teams.data.teams.map((x) => h('tr', null,
        h('td', { text: x.name }),
        h('td', null, h('span', { class: 'role-pill', text: t(`role.${x.role}`) })),
        h('td', { class: 'mono', text: mask(x.token) }))),
    ]));
  const btn = $('tokens-toggle');
  btn.setAttribute('aria-pressed', String(showTokens));
  btn.dataset.i18n = showTokens ? 'admin.hideTokens' : 'admin.showTokens';
  btn.textContent = t(btn.dataset.i18n);
}

async function loadRange() {
  range = await api('GET', '/api/v1/admin/range');
  renderRange();
}

// value draws any JSON the range reports: objects as key/value lists,
// lists of objects as tables, the rest as text. The range's shape belongs
// to the range; the console shows whatever it says.
function value(v) {
  if (v === null || v === undefined) return h('span', { class: 'muted', text: '–' });
  if (Array.isArray(v)) {
    if (v.length === 0) return h('span', { class: 'muted', text: '[]' });
    if (v.every((x) => x && typeof x === 'object' && !Array.isArray(x))) {
      const cols = [...new Set(v.flatMap((x) => Object.keys(x)))];
      return h('table', { class: 'results' },
        h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col', text: c })))),
        h('tbody', null, v.map((x) => h('tr', null, cols.map((c) => h('td', null, value(x[c])))))));
    }
    return h('span', { text: v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ') });
  }
  if (typeof v === 'object') {
    return h('table', { class: 'results kvt' }, h('tbody', null, Object.entries(v).map(([k, x]) => h('tr', null,
      h('th', { scope: 'row', text: k }), h('td', null, value(x))))));
  }
  if (typeof v === 'boolean') return h('span', { class: v ? 'verdict-true_positive' : 'verdict-false_positive', text: v ? '✔ true' : '✖ false' });
  return h('span', { text: String(v) });
}

function renderRange() {
  const box = $('range');
  if (!range) return;
  if (!range.ok) {
    box.replaceChildren(h('p', { class: 'alert error', role: 'alert', text: t('admin.loadError', { status: range.status, error: range.error }) }));
    return;
  }
  box.replaceChildren(range.data === null ? h('p', { class: 'empty', text: t('admin.rangeEmpty') }) : value(range.data));
}

async function loadSuspects() {
  suspects = await api('GET', '/api/v1/admin/suspects');
  renderSuspects();
}

function table(heads, rows) {
  return h('div', { class: 'scroll' }, h('table', { class: 'results' },
    h('thead', null, h('tr', null, heads.map((k) => h('th', { scope: 'col', text: t(k) })))),
    h('tbody', null, rows)));
}

// renderSuspects shows the anti-cheat's findings with their evidence, so
// that the organizer judges people, not the machine.
function renderSuspects() {
  const box = $('suspects');
  if (!suspects) return;
  if (!suspects.ok) {
    box.replaceChildren(h('p', { class: 'alert error', role: 'alert', text: t('admin.loadError', { status: suspects.status, error: suspects.error }) }));
    return;
  }
  const d = suspects.data;
  const out = [];
  if (d.pending) out.push(h('p', { class: 'muted', text: t('admin.pending', { n: d.pending }) }));
  const slot = (x) => `${serviceTitle(view ?? { services: [] }, x.service)}/${x.store}`;
  if (d.clusters.length) {
    out.push(h('h3', { text: t('admin.clusters') }), table(
      ['col.target', 'col.service', 'admin.flagTick', 'admin.teamsInOrder', 'admin.spread', 'admin.verifiedBy'],
      d.clusters.map((c) => h('tr', { dataset: { kind: 'cluster' } },
        h('td', { text: c.target }), h('td', { text: slot(c) }), h('td', { class: 'num', text: String(c.flagTick) }),
        h('td', { text: c.teams.join(', ') }), h('td', { class: 'num', text: fmtDuration(c.spread) }),
        h('td', { text: c.capturedBy.join(', ') || '–' })))));
  }
  if (d.unverified.length) {
    out.push(h('h3', { text: t('admin.unverified') }), table(
      ['col.time', 'col.team', 'col.target', 'col.service', 'admin.flagTick', 'admin.connections', 'admin.lastContact', 'admin.verifiedBy'],
      d.unverified.map((u) => h('tr', { dataset: { kind: 'unverified' } },
        h('td', null, h('time', { datetime: u.time, text: fmtTime(u.time) })),
        h('td', { text: u.team }), h('td', { text: u.target }), h('td', { text: slot(u) }),
        h('td', { class: 'num', text: String(u.flagTick) }),
        h('td', { class: 'num', text: `${u.evidence.connections} (${t('clock.tick')} ${u.evidence.fromTick}–${u.evidence.toTick})` }),
        h('td', { text: u.evidence.lastContact ? fmtDateTime(u.evidence.lastContact) : t('admin.never') }),
        h('td', { text: u.evidence.capturedBy.join(', ') || '–' })))));
  }
  if (!d.clusters.length && !d.unverified.length) {
    out.push(h('p', { class: 'empty', text: t(d.requireTelemetry ? 'admin.sharingEmpty' : 'admin.sharingOff') }));
  }
  box.replaceChildren(...out);
}

function onLogin(data) {
  me = data;
  $('login-box').hidden = true;
  if (me.role !== 'organizer') {
    $('denied-text').textContent = t('login.teamOnAdmin', { team: me.name });
    $('admin-denied').hidden = false;
    return;
  }
  $('console').hidden = false;
  $('conn').hidden = false;
  for (const b of $('phase-buttons').querySelectorAll('button[data-action]')) {
    b.disabled = true;
    b.addEventListener('click', () => act(b.dataset.action));
  }
  $('tokens-toggle').addEventListener('click', () => {
    showTokens = !showTokens;
    renderTeams();
  });
  $('range-refresh').addEventListener('click', loadRange);
  $('suspects-refresh').addEventListener('click', loadSuspects);
  stream.start();
  loadTeams();
  loadRange();
  loadSuspects();
}

async function main() {
  setupChrome();
  await initLang();
  onLangChange(() => {
    if (!me) return;
    if (me.role !== 'organizer') {
      $('denied-text').textContent = t('login.teamOnAdmin', { team: me.name });
      return;
    }
    draw();
    renderTeams();
    renderRange();
    renderSuspects();
  });
  setupLogin(onLogin);
  setupLogout();
  for (const b of document.querySelectorAll('.logout-alt')) b.addEventListener('click', () => $('logout').click());
  scenario().then((sc) => {
    scoring = sc;
    if (sc?.title) $('exercise').textContent = sc.title;
  });
  setInterval(renderClock, 500);
  const r = await whoami();
  if (r.ok) onLogin(r.data);
  else $('login-box').hidden = false;
}

main();
