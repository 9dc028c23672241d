// The team portal. An attack team submits flags and sees each verdict,
// its captures, its targets and how to reach them; a defence team sees
// its services tick by tick, its targets' logs live, reports detections
// and reads their verdicts; a team with role both gets both. Everything
// private comes from the team's own stream (/api/v1/team/live) and from
// routes the session cookie opens for this team only.

import { $, h, api, setupChrome, setConn, statusBadge } from './dom.js';
import { t, initLang, onLangChange, scenario, fmtNum, fmtSigned, fmtPct, fmtTime, fmtDateTime } from './i18n.js';
import { LiveStream } from './stream.js';
import { normalise, merge, StatusHistory, strip, attacks, defends, serviceTitle, clockState } from './board.js';
import { me as whoami, setupLogin, setupLogout } from './session.js';

const MAX_VERDICTS = 500;
const MAX_LOGS = 2000;
const SHOWN_LOGS = 400;

let me = null;
let view = null;
let scoring = null;
let targets = null;
let replicas = [];
let detections = null; // {ok, status, data, error}
const verdicts = [];
const logs = [];
let logsDropped = 0;
const hist = new StatusHistory();

const stream = new LiveStream('/api/v1/team/live', {
  state: setConn,
  snapshot(msg) {
    const first = !view;
    view = normalise(msg);
    collectLogs(view.recent);
    if (first) fillDetectionForm();
    renderLive();
    // Service titles come with the board.
    if (first && defends(me.role)) renderDetections();
  },
  message(msg) {
    const events = merge(view, msg, (tick, status) => {
      hist.tickEnded(tick, status);
      if (attacks(me.role)) loadTargets();
    });
    collectLogs(events);
    logsDropped += msg.logsDropped ?? 0;
    if (events.some((it) => it.kind === 'detection')) loadDetections();
    renderLive();
  },
});

function collectLogs(items) {
  for (const it of items) if (it.kind === 'log') logs.push(it);
  if (logs.length > MAX_LOGS) logs.splice(0, logs.length - MAX_LOGS);
}

function ownLine() {
  return view?.standings.find((s) => s.team === me.name) ?? me.standing ?? null;
}

function stat(key, value, cls = '') {
  return h('div', { class: 'stat' }, h('span', { class: 'k', text: t(key) }), h('span', { class: `v ${cls}`, text: value }));
}

function renderStats() {
  const s = ownLine();
  if (!s) return;
  const peers = (view?.teams ?? []).filter((x) => x.role === me.role).length || undefined;
  const cards = [
    stat('team.rank', peers ? t('team.rankOf', { rank: s.rank, n: peers }) : String(s.rank)),
    stat('team.total', fmtNum(s.total)),
  ];
  if (attacks(me.role)) {
    cards.push(stat('col.attack', fmtNum(s.attack)), stat('col.captures', fmtNum(s.captures, 0)), stat('col.firstBloods', fmtNum(s.firstBloods, 0)));
  }
  if (defends(me.role)) {
    cards.push(stat('col.availability', fmtPct(s.availability)),
      stat('def.lost', `${fmtNum(s.flagsLost, 0)} · ${fmtSigned(-s.lost)}`, s.flagsLost ? 'neg' : ''),
      stat('def.protected', `${fmtNum(s.flagsProtected, 0)} · ${fmtSigned(s.protected)}`, s.flagsProtected ? 'pos' : ''),
      stat('def.detectionPts', fmtSigned(s.detection)));
  }
  $('stats').replaceChildren(...cards);
}

function renderClock() {
  if (!view) return;
  $('tick').textContent = view.tick ? String(view.tick) : '–';
  const c = clockState(view, scoring?.tickSeconds);
  $('countdown').textContent = c ? c.text : '–';
  $('phase').textContent = t(`phase.${view.phase}`);
  $('phase').dataset.phase = view.phase;
}

function renderLive() {
  renderStats();
  renderClock();
  if (attacks(me.role)) renderCaptures();
  if (defends(me.role)) {
    renderServices();
    renderLogs();
  }
}

// Attack ---------------------------------------------------------------

function renderCaptures() {
  if (!view) return;
  // A first blood shares its capture's seq: one row, both points.
  const rows = new Map();
  for (const it of view.recent) {
    if ((it.kind !== 'capture' && it.kind !== 'first_blood') || it.team !== me.name) continue;
    const r = rows.get(it.seq) ?? { time: it.time, target: it.target, service: it.service, points: 0, first: false };
    r.points += it.points ?? 0;
    r.first ||= it.kind === 'first_blood';
    rows.set(it.seq, r);
  }
  const list = [...rows.values()].reverse();
  $('captures').tBodies[0].replaceChildren(...list.map((r) => h('tr', null,
    h('td', null, h('time', { datetime: r.time, text: fmtTime(r.time) })),
    h('td', { text: r.target }),
    h('td', { text: serviceTitle(view, r.service) + (r.first ? ' ★' : '') }),
    h('td', { class: 'num', text: fmtSigned(r.points) }))));
  $('captures-empty').hidden = list.length > 0;
}

function parseFlags(text) {
  const seen = new Set();
  const out = [];
  for (const f of text.split(/\s+/)) {
    if (f && !seen.has(f)) {
      seen.add(f);
      out.push(f);
    }
  }
  return out;
}

function renderVerdicts() {
  const body = $('flag-results').tBodies[0];
  body.replaceChildren(...verdicts.map((v) => h('tr', { dataset: { code: v.code } },
    h('td', { class: 'flag mono', text: v.flag }),
    h('td', null, h('span', { class: `code code-${v.code}`, text: v.code }), ' ', h('span', { class: 'muted', text: t(`code.${v.code}`) })),
    h('td', { text: v.msg }))));
  $('flag-empty').hidden = verdicts.length > 0;
}

async function submitFlags(ev) {
  ev.preventDefault();
  const err = $('flag-error');
  err.hidden = true;
  const flags = parseFlags($('flags').value);
  if (flags.length === 0) {
    err.textContent = t('flags.none');
    err.hidden = false;
    return;
  }
  const btn = $('flag-form').querySelector('button[type="submit"]');
  btn.disabled = true;
  const r = await api('POST', '/api/v1/flags', flags);
  btn.disabled = false;
  if (!r.ok || !Array.isArray(r.data)) {
    err.textContent = t('flags.error', { status: r.status, error: r.error || 'unexpected answer' });
    err.hidden = false;
    return;
  }
  const counts = {};
  const retry = [];
  for (const v of r.data) {
    counts[v.code] = (counts[v.code] ?? 0) + 1;
    if (v.code === 'ERR') retry.push(v.flag);
  }
  verdicts.unshift(...r.data);
  verdicts.length = Math.min(verdicts.length, MAX_VERDICTS);
  renderVerdicts();
  // Flags that may succeed later stay in the box; the rest are done.
  $('flags').value = retry.join('\n');
  $('flag-summary').textContent = t('flags.summary', { n: r.data.length, parts: Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(' · ') });
}

async function loadTargets() {
  const r = await api('GET', '/api/v1/targets');
  targets = r;
  renderTargets();
}

function example(text) {
  return h('pre', { class: 'example mono', tabindex: '0', text });
}

// splitAddr cuts a gateway's host:port; SOCKS's own port when it names
// none.
function splitAddr(addr) {
  const i = addr.lastIndexOf(':');
  if (i < 0 || addr.endsWith(']')) return [addr, '1080'];
  return [addr.slice(0, i), addr.slice(i + 1)];
}

function renderTargets() {
  const box = $('targets');
  const gw = $('gateway');
  if (!targets) return;
  if (!targets.ok) {
    box.replaceChildren(h('p', { class: 'alert error', role: 'alert', text: t('admin.loadError', { status: targets.status, error: targets.error }) }));
    gw.replaceChildren();
    return;
  }
  const d = targets.data;
  const first = d.targets[0]?.address || 'TARGET';
  // The examples use the first target's own ports, as the range placed
  // them (the local range moves them by 10000).
  const portOf = (name, dflt) => d.targets[0]?.ports?.find((p) => p.name === name)?.port ?? dflt;
  const web = portOf('http', 80) === 80 ? `http://${first}/` : `http://${first}:${portOf('http', 80)}/`;
  const g = d.gateway;
  if (g && typeof g === 'object') {
    const addr = g.socks5 ?? g.address ?? '';
    const user = g.user ?? d.team;
    const [host, port] = splitAddr(addr);
    gw.replaceChildren(...[
      h('h3', { text: t('targets.gateway') }),
      h('dl', { class: 'kv' },
        h('dt', { text: t('targets.gatewayAddr') }), h('dd', { class: 'mono', text: addr }),
        h('dt', { text: t('targets.user') }), h('dd', { class: 'mono', text: user }),
        h('dt', { text: t('targets.password') }), h('dd', { text: t('targets.passwordIs') }),
        g.source ? [h('dt', { text: t('targets.source') }), h('dd', { class: 'mono', text: g.source })] : null),
      h('h3', { text: t('targets.examples') }),
      example(`curl --socks5-hostname ${addr} --proxy-user "${user}:$TEAM_TOKEN" ${web}`),
      // proxychains reads its user name up to the first blank.
      /^\S+$/.test(user) ? example(`# /etc/proxychains4.conf\n[ProxyList]\nsocks5 ${host} ${port} ${user} $TEAM_TOKEN\n\nproxychains4 -q nc -v ${first} ${portOf('smtp', 25)}`) : null,
    ].filter(Boolean));
  } else {
    gw.replaceChildren(h('p', { class: 'alert info', text: t('targets.noGateway') }), example(`curl ${web}`));
  }
  if (d.targets.length === 0) {
    box.replaceChildren(h('p', { class: 'empty', text: t('targets.none') }));
    return;
  }
  const info = (x) => (x.attackInfo.length === 0
    ? h('span', { class: 'muted', text: t('targets.noInfo') })
    : h('ul', { class: 'info' }, x.attackInfo.map((a) => h('li', null,
      h('span', { class: 'muted', text: `${t('clock.tick')} ${a.tick} · ${a.store}: ` }),
      h('span', { class: 'mono', text: a.info })))));
  const ports = (x) => (x.ports?.length ? x.ports.map((p) => `${p.name} ${p.port}`).join(' · ') : '–');
  const heads = ['col.team', 'col.service', 'col.address', 'targets.ports', 'targets.info'].map((k) => h('th', { scope: 'col', text: t(k) }));
  const rows = d.targets.map((x) => h('tr', null,
    h('td', { text: x.team }),
    h('td', { text: view ? serviceTitle(view, x.service) : x.service }),
    h('td', { class: 'mono', text: x.address || '–' }),
    h('td', { class: 'mono', text: ports(x) }),
    h('td', null, info(x))));
  box.replaceChildren(h('div', { class: 'scroll' },
    h('table', { class: 'results' }, h('thead', null, h('tr', null, heads)), h('tbody', null, rows))));
}

// Defence --------------------------------------------------------------

async function loadReplicas() {
  const r = await api('GET', '/api/v1/team/replicas');
  if (r.ok) {
    replicas = r.data;
    for (const x of replicas) for (const e of x.history) hist.set(me.name, x.service, e.tick, e.status);
  } else {
    replicas = [];
    const err = () => h('p', { class: 'alert error', role: 'alert', text: t('admin.loadError', { status: r.status, error: r.error }) });
    $('services').replaceChildren(err());
    $('consoles').replaceChildren(err());
    $('defence-tools').replaceChildren();
    return;
  }
  renderServices();
  renderSystems();
}

// The team's own systems: each replica's admin console, opened through
// this server and the team's defence gateway, with the operator's login,
// and how to reach everything with the team's own tools. Drawn when the
// replicas load and the language changes, not with every live message:
// a password the member chose to show stays shown, and a focused button
// keeps its focus.

const shownPasswords = new Set();

function replicaName(x) {
  return x.title || (view ? serviceTitle(view, x.service) : x.service);
}

function operatorLogin(x) {
  const op = x.operator;
  if (!op) return h('span', { class: 'muted', text: t('def.noOperator') });
  const secret = h('span', { class: 'mono secret' });
  const btn = h('button', { type: 'button' });
  const draw = () => {
    const shown = shownPasswords.has(x.service);
    secret.textContent = shown ? op.password : '••••••••';
    btn.textContent = t(shown ? 'login.hide' : 'login.show');
    btn.setAttribute('aria-pressed', String(shown));
    btn.setAttribute('aria-label', t(shown ? 'def.hideLabel' : 'def.showLabel', { service: replicaName(x) }));
  };
  btn.addEventListener('click', () => {
    if (!shownPasswords.delete(x.service)) shownPasswords.add(x.service);
    draw();
  });
  draw();
  return h('dl', { class: 'kv' },
    h('dt', { text: t('targets.user') }), h('dd', { class: 'mono', text: op.user }),
    h('dt', { text: t('targets.password') }), h('dd', null, secret, btn));
}

function renderSystems() {
  const box = $('consoles');
  if (replicas.length === 0) {
    box.replaceChildren(h('p', { class: 'empty', text: t('def.noServices') }));
  } else {
    box.replaceChildren(
      ...(replicas.some((x) => x.proxy) ? [] : [h('p', { class: 'alert info', text: t('def.noProxy') })]),
      ...replicas.map((x) => h('div', { class: 'svc-card console-card', dataset: { service: x.service } },
        h('div', { class: 'head' },
          h('strong', { text: replicaName(x) }),
          x.proxy ? h('a', { class: 'button primary open-console', href: x.proxy, target: '_blank', rel: 'noopener',
            'aria-label': t('def.openLabel', { service: replicaName(x) }), text: t('def.open') }) : null),
        h('dl', { class: 'kv' },
          x.viaGateway ? [h('dt', { text: t('def.viaGateway') }), h('dd', { class: 'mono', text: x.viaGateway })] : null,
          h('dt', { text: t('def.operator') }), h('dd', null, operatorLogin(x))))));
  }
  renderTools();
}

// renderTools shows the team's defence gateway and the commands that go
// through it, as the attack portal shows an attack team's. The token is
// always $TOKEN: the page never prints it.
function renderTools() {
  const box = $('defence-tools');
  const g = replicas.find((x) => x.gateway && typeof x.gateway === 'object')?.gateway;
  if (!g) {
    box.replaceChildren(h('p', { class: 'alert info', text: t('def.noGateway') }));
    return;
  }
  const addr = g.socks5 ?? g.address ?? '';
  const [host, port] = splitAddr(addr);
  // The gateway takes the team's short name as well as its name, and a
  // short name needs no quoting anywhere.
  const user = g.short || g.user || me.name;
  const plain = /^[A-Za-z0-9._-]+$/.test(user);
  const first = replicas.find((x) => x.viaGateway) ?? replicas[0];
  const target = first?.viaGateway || (first?.address ? `http://${first.address}/` : 'http://HOST/');
  box.replaceChildren(...[
    h('dl', { class: 'kv' },
      h('dt', { text: t('def.gateway') }), h('dd', { class: 'mono', text: addr }),
      h('dt', { text: t('targets.user') }), h('dd', { class: 'mono', text: user }),
      h('dt', { text: t('targets.password') }), h('dd', { text: t('targets.passwordIs') })),
    h('p', { class: 'muted', text: t('def.token') }),
    h('p', { text: t('def.exCurl') }),
    example(plain ? `curl --socks5-hostname ${user}:$TOKEN@${addr} ${target}`
      : `curl --socks5-hostname ${addr} --proxy-user "${user}:$TOKEN" ${target}`),
    // proxychains reads its user name up to the first blank.
    plain ? [h('p', { text: t('def.exProxychains') }),
      example(`# /etc/proxychains4.conf\n[ProxyList]\nsocks5 ${host} ${port} ${user} $TOKEN\n\nproxychains4 -q curl ${target}`)] : null,
    g.short ? [h('p', { text: t('def.exBox') }), example(`proxychains4 ssh ${g.short}@defencebox`),
      h('p', { class: 'muted', text: t('def.box') })] : null,
  ].flat().filter(Boolean));
}

function renderServices() {
  if (!view && replicas.length === 0) return;
  if (replicas.length === 0) {
    $('services').replaceChildren(h('p', { class: 'empty', text: t('def.noServices') }));
    return;
  }
  const tick = view?.tick ?? 0;
  $('services').replaceChildren(...replicas.map((x) => {
    const st = view?.status[me.name]?.[x.service] ?? x.status;
    const entries = hist.last(me.name, x.service, 20, tick);
    if (entries.length && !entries[entries.length - 1].status && st && st !== 'UNKNOWN') entries[entries.length - 1].status = st;
    return h('div', { class: 'svc-card', dataset: { service: x.service } },
      h('div', { class: 'head' },
        h('strong', { text: x.title || x.service }),
        statusBadge(st)),
      h('dl', { class: 'kv' },
        h('dt', { text: t('col.address') }), h('dd', { class: 'mono', text: x.address || '–' }),
        h('dt', { text: t('def.console') }), h('dd', null, x.console
          ? h('a', { href: x.console, target: '_blank', rel: 'noopener noreferrer', text: x.console })
          : h('span', { class: 'muted', text: t('def.noConsole') })),
        recentAvailability(entries)),
      entries.length ? strip(entries) : null);
  }));
}

// recentAvailability is the share of the shown ticks the service was up
// (OK, RECOVERING, or a checker failure the team is not blamed for).
function recentAvailability(entries) {
  const known = entries.filter((e) => e.status && e.status !== 'UNKNOWN');
  if (known.length === 0) return null;
  const up = known.filter((e) => ['OK', 'RECOVERING', 'INTERNAL_ERROR'].includes(e.status)).length;
  return [h('dt', { text: t('col.availability') }), h('dd', { text: t('def.recent', { pct: fmtPct(up / known.length), n: known.length }) })];
}

function fillDetectionForm() {
  const svc = $('det-service');
  const services = view?.services ?? scoring?.services ?? [];
  svc.replaceChildren(...services.map((x) => h('option', { value: x.name, text: x.title || x.name })));
  const stores = () => {
    const sel = services.find((x) => x.name === svc.value);
    $('det-store').replaceChildren(h('option', { value: '', text: t('det.noStore') }),
      ...(sel?.stores ?? []).map((st) => h('option', { value: st, text: st })));
  };
  svc.onchange = stores;
  stores();
  $('attackers').replaceChildren(...(view?.teams ?? []).filter((x) => attacks(x.role) && x.name !== me.name)
    .map((x) => h('option', { value: x.name })));
  const logSvc = $('log-service');
  logSvc.replaceChildren(h('option', { value: '', 'data-i18n': 'logs.all', text: t('logs.all') }),
    ...services.map((x) => h('option', { value: x.name, text: x.title || x.name })));
  setNow();
}

function setNow() {
  const d = new Date();
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  $('det-seen').value = d.toISOString().slice(0, 19);
}

async function submitDetection(ev) {
  ev.preventDefault();
  const out = $('det-result');
  out.hidden = true;
  const f = ev.target;
  const body = { attacker: f.attacker.value.trim(), service: f.service.value, seenAt: new Date(f.seenAt.value).toISOString() };
  for (const k of ['technique', 'store', 'notes']) {
    const val = f[k].value.trim();
    if (val) body[k] = val;
  }
  const btn = f.querySelector('button[type="submit"]');
  btn.disabled = true;
  const r = await api('POST', '/api/v1/detections', body);
  btn.disabled = false;
  if (!r.ok) {
    out.className = 'alert error';
    out.textContent = t('det.error', { status: r.status, error: r.error });
    out.hidden = false;
    return;
  }
  out.className = 'alert ok';
  out.textContent = t('det.sent', { id: r.data?.id ?? '?', verdict: t(`verdict.${r.data?.verdict ?? 'pending'}`) });
  out.hidden = false;
  f.notes.value = '';
  setNow();
  loadDetections();
}

async function loadDetections() {
  detections = await api('GET', '/api/v1/detections');
  renderDetections();
}

function renderDetections() {
  const box = $('verdicts');
  if (!detections) return;
  if (!detections.ok) {
    box.replaceChildren(h('p', { class: 'alert error', role: 'alert', text: t('det.listError', { status: detections.status, error: detections.error }) }));
    return;
  }
  const list = Array.isArray(detections.data) ? [...detections.data].reverse() : [];
  if (list.length === 0) {
    box.replaceChildren(h('p', { class: 'empty', text: t('det.none') }));
    return;
  }
  box.replaceChildren(h('div', { class: 'tall' }, h('table', { class: 'results' },
    h('thead', null, h('tr', null, ['#', t('det.attacker'), t('col.service'), t('det.seenAt'), t('flags.verdict'), t('col.points')]
      .map((x) => h('th', { scope: 'col', text: x })))),
    h('tbody', null, list.map((d) => h('tr', { dataset: { verdict: d.verdict } },
      h('td', { text: String(d.id ?? '') }),
      h('td', { text: d.attacker ?? '' }),
      h('td', { text: view ? serviceTitle(view, d.service) : d.service }),
      h('td', { text: fmtDateTime(d.seenAt) }),
      h('td', { class: `verdict-${d.verdict}`, text: t(`verdict.${d.verdict}`) }),
      h('td', { class: 'num', text: d.points === undefined ? '' : fmtSigned(d.points) })))))));
}

function renderLogs() {
  const svc = $('log-service').value;
  const src = $('log-source').value.trim();
  const text = $('log-text').value.trim().toLowerCase();
  const match = logs.filter((l) => (!svc || l.service === svc)
    && (!src || String(l.source ?? l.addr ?? '').includes(src))
    && (!text || String(l.text ?? l.line ?? '').toLowerCase().includes(text)));
  const shown = match.slice(-SHOWN_LOGS).reverse();
  $('logs').tBodies[0].replaceChildren(...shown.map((l) => h('tr', null,
    h('td', null, h('time', { datetime: l.time, text: fmtTime(l.time) })),
    h('td', { text: view ? serviceTitle(view, l.service) : l.service ?? '' }),
    h('td', { class: 'mono', text: l.source ?? l.addr ?? '' }),
    h('td', { class: 'line', text: l.text ?? l.line ?? '' }))));
  $('logs').hidden = logs.length === 0;
  const empty = $('logs-empty');
  empty.hidden = shown.length > 0;
  empty.textContent = logs.length === 0 ? t('logs.empty') : t('logs.noMatch');
  $('log-count').textContent = [logs.length ? t('logs.count', { shown: shown.length, total: logs.length }) : '',
    logsDropped ? t('logs.dropped', { n: logsDropped }) : ''].filter(Boolean).join(' · ');
}

// Page -----------------------------------------------------------------

function onLogin(data) {
  me = data;
  $('login-box').hidden = true;
  if (me.role === 'organizer') {
    $('organizer-here').hidden = false;
    return;
  }
  $('portal').hidden = false;
  $('conn').hidden = false;
  $('team-name').textContent = me.name;
  $('team-role').textContent = t(`role.${me.role}`);
  for (const e of document.querySelectorAll('.attack-only')) e.hidden = !attacks(me.role);
  for (const e of document.querySelectorAll('.defence-only')) e.hidden = !defends(me.role);
  renderStats();
  stream.start();
  if (attacks(me.role)) {
    $('flag-form').addEventListener('submit', submitFlags);
    $('targets-refresh').addEventListener('click', loadTargets);
    renderVerdicts();
    loadTargets();
  }
  if (defends(me.role)) {
    $('det-form').addEventListener('submit', submitDetection);
    for (const id of ['log-service', 'log-source', 'log-text']) $(id).addEventListener('input', renderLogs);
    $('log-filter').addEventListener('submit', (ev) => ev.preventDefault());
    loadReplicas();
    loadDetections();
    renderLogs();
  }
}

async function main() {
  setupChrome();
  await initLang();
  onLangChange(() => {
    if (!me || me.role === 'organizer') return;
    $('team-role').textContent = t(`role.${me.role}`);
    renderLive();
    if (attacks(me.role)) {
      renderVerdicts();
      renderTargets();
    }
    if (defends(me.role)) {
      renderDetections();
      renderSystems();
    }
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
