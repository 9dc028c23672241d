// "How scoring works": SCORING.md's formulas with the running scenario's
// constants filled in (GET /api/v1/scoring), and worked examples, so that
// nobody has to trust a number they cannot recompute.

import { $, h, api, setupChrome } from './dom.js';
import { t, initLang, onLangChange, fmtNum, fmtSigned, fmtDuration } from './i18n.js';

let c = null;

const v = (name, sub) => h('span', null, h('var', { text: name }), sub ? h('sub', { text: sub }) : null);
const formula = (...parts) => h('div', { class: 'formula' }, ...parts);
const eq = (value) => h('span', { class: 'eq', text: ` = ${value}` });

function constants() {
  const rows = [
    [t('scoring.tick'), fmtDuration(c.tickSeconds)],
    [t('scoring.lifetime'), t('scoring.lifetimeVal', { n: c.flagLifetime })],
    [t('scoring.A'), fmtNum(c.attackers, 0)],
    [t('scoring.defenders'), fmtNum(c.defenders, 0)],
    [t('scoring.flagFormat'), h('code', { text: c.flagFormat })],
    [t('scoring.telemetry'), t(c.requireTelemetry ? 'scoring.yes' : 'scoring.no')],
    [t('scoring.duration'), c.durationSeconds ? fmtDuration(c.durationSeconds) : t('scoring.never')],
    [t('scoring.freezeAt'), c.freezeAtSeconds ? fmtDuration(c.freezeAtSeconds) : t('scoring.never')],
  ];
  const svc = h('table', { class: 'example-table' },
    h('thead', null, h('tr', null, h('th', { scope: 'col', text: t('col.service') }), h('th', { scope: 'col', class: 'num', text: 'w' }),
      h('th', { scope: 'col', text: t('scoring.stores') }))),
    h('tbody', null, c.services.map((s) => h('tr', null, h('td', { text: s.title ? `${s.title} (${s.name})` : s.name }),
      h('td', { class: 'num', text: fmtNum(s.weight) }), h('td', { text: (s.stores ?? []).join(', ') })))));
  return h('section', { class: 'panel', 'aria-labelledby': 'h-const' },
    h('h2', { id: 'h-const', text: t('scoring.constants') }),
    h('dl', { class: 'kv' }, rows.map(([k, val]) => [h('dt', { text: k }), h('dd', null, val)])),
    h('h3', { text: t('scoring.weights') }), svc);
}

function attack(w, name) {
  const fb = c.scoring.firstBlood;
  const ns = [1, 2, 3, 5, 10].filter((n) => n <= Math.max(1, c.attackers));
  return h('section', { class: 'panel', 'aria-labelledby': 'h-attack' },
    h('h2', { id: 'h-attack', text: t('scoring.attack') }),
    h('p', { text: t('scoring.attack.capture') }),
    formula(v('w', 's'), ' × (1 + 1 / ', v('n', 'f'), ')'),
    h('p', { class: 'muted', text: t('scoring.attack.n') }),
    h('p', { text: t('scoring.example', { service: name, w: fmtNum(w) }) }),
    h('table', { class: 'example-table' },
      h('thead', null, h('tr', null, h('th', { scope: 'col', text: 'n' }), h('th', { scope: 'col', class: 'num', text: t('col.points') }))),
      h('tbody', null, ns.map((n) => h('tr', null, h('td', { text: t('scoring.capturedBy', { n }) }), h('td', { class: 'num', text: fmtNum(w * (1 + 1 / n)) }))))),
    h('p', { text: t('scoring.attack.firstBlood') }),
    formula(`+${fmtNum(fb)} × `, v('w', 's'), eq(fmtSigned(fb * w))),
    h('p', { text: t('scoring.attack.never') }),
    c.requireTelemetry ? h('p', { text: t('scoring.attack.telemetry') }) : null);
}

function defence(w) {
  const sqrtA = Math.sqrt(c.attackers);
  const ns = [1, 2, 3, 5, 10].filter((n) => n <= Math.max(1, c.attackers));
  return h('section', { class: 'panel', 'aria-labelledby': 'h-def' },
    h('h2', { id: 'h-def', text: t('scoring.defence') }),
    h('p', { text: t('scoring.defence.sla') }),
    formula(v('w', 's'), ' × √', v('A'), eq(`${fmtNum(w)} × √${c.attackers} = ${fmtNum(w * sqrtA)} ${t('scoring.perTick')}`)),
    h('p', { text: t('scoring.defence.slaHalf') }),
    h('p', { text: t('scoring.defence.lost') }),
    formula('−', v('w', 's'), ' × ', v('n', 'f'), h('sup', { text: '0.75' })),
    h('table', { class: 'example-table' },
      h('thead', null, h('tr', null, h('th', { scope: 'col', text: 'n' }), h('th', { scope: 'col', class: 'num', text: t('col.points') }))),
      h('tbody', null, ns.map((n) => h('tr', null, h('td', { text: t('scoring.capturedBy', { n }) }), h('td', { class: 'num', text: fmtSigned(-w * n ** 0.75) }))))),
    h('p', { text: t('scoring.defence.protected') }),
    formula('+', v('w', 's'), eq(fmtSigned(w))));
}

function detection(w) {
  const sc = c.scoring;
  const span = c.flagLifetime * c.tickSeconds;
  const examples = [0.1, 0.5, 0.9].map((f) => Math.round(span * f));
  return h('section', { class: 'panel', 'aria-labelledby': 'h-det' },
    h('h2', { id: 'h-det', text: t('scoring.detect') }),
    h('p', { text: t('scoring.detect.incident') }),
    h('p', { text: t('scoring.detect.true') }),
    formula(`+${fmtNum(sc.detectionTrue)} × `, v('w', 's'), eq(fmtSigned(sc.detectionTrue * w))),
    h('p', { text: t('scoring.detect.timely') }),
    formula(`${fmtNum(sc.detectionTimeliness)} × `, v('w', 's'), ' × max(0, 1 − ', v('t'), ' / (', v('L'), ' × ', v('tick'), '))',
      h('span', { class: 'muted', text: `  (L × tick = ${fmtDuration(span)})` })),
    h('table', { class: 'example-table' },
      h('tbody', null, examples.map((sec) => h('tr', null, h('td', { text: t('scoring.timelyAt', { t: fmtDuration(sec) }) }),
        h('td', { class: 'num', text: fmtSigned(sc.detectionTimeliness * w * Math.max(0, 1 - sec / span)) }))))),
    h('p', { text: t('scoring.detect.false') }),
    formula(`−${fmtNum(sc.detectionFalse)} × `, v('w', 's'), eq(fmtSigned(-sc.detectionFalse * w))),
    h('p', { text: t('scoring.detect.dup') }),
    h('p', { text: t('scoring.detect.store') }),
    formula(`+${fmtNum(sc.detectionStore)} × `, v('w', 's'), eq(fmtSigned(sc.detectionStore * w))));
}

function totals() {
  return h('section', { class: 'panel', 'aria-labelledby': 'h-tot' },
    h('h2', { id: 'h-tot', text: t('scoring.totals') }),
    h('ul', null, ['attack', 'defence', 'both', 'ties'].map((k) => h('li', { text: t(`scoring.totals.${k}`) }))));
}

function render() {
  if (!c) return;
  const first = c.services[0] ?? { name: '–', weight: 1 };
  const name = first.title || first.name;
  $('main').replaceChildren(
    h('p', { text: t('scoring.intro') }),
    constants(), attack(first.weight, name), defence(first.weight), detection(first.weight), totals());
}

async function main() {
  setupChrome();
  await initLang();
  onLangChange(render);
  const r = await api('GET', '/api/v1/scoring');
  if (!r.ok) {
    $('main').replaceChildren(h('p', { class: 'alert error', role: 'alert', text: t('admin.loadError', { status: r.status, error: r.error }) }));
    return;
  }
  c = r.data;
  if (c.title) $('exercise').textContent = c.title;
  render();
}

main();
