// The organizer console: phase controls behind a confirmation, the real
// (never frozen) board and every event from /api/v1/admin/live, the teams'
// tokens with a CSV to hand out, the range's health, and the exports.
// Only the organizer's session opens its routes; a team that comes here
// is told so and shown nothing.

import { $, h, api, setupChrome, setConn } from './dom.js';
import { t, initLang, onLangChange, scenario } from './i18n.js';
import { LiveStream } from './stream.js';
import { normalise, merge, Standings, renderTicker, clockState } from './board.js';
import { me as whoami, setupLogin, setupLogout } from './session.js';

let me = null;
let view = null;
let scoring = null;
let teams = null;
let range = null;
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
  stream.start();
  loadTeams();
  loadRange();
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
