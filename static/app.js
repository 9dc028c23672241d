// The public scoreboard: one websocket to /api/v1/live (a snapshot, then
// delta, tick and event messages merged into it), the board's history from
// /api/v1/history for the chart and the status strips, and the scenario's
// constants from /api/v1/scoring for the title and the tick length.

import { $, h, api, setupChrome, setConn } from './dom.js';
import { t, initLang, onLangChange, scenario } from './i18n.js';
import { LiveStream } from './stream.js';
import {
  normalise, merge, Standings, StatusHistory, renderMatrix, renderTicker, clockState, bannerText, attacks, ROLE_ORDER,
} from './board.js';
import { drawChart } from './chart.js';

const CHART_TEAMS = 8;

let view = null;
let scoring = null;
let hist = new StatusHistory();
let points = []; // [{tick, totals: {teamId: total}}] at each tick's start
let chartRole = null;
let drawPending = false;
const standings = new Standings($('boards'));

async function loadHistory() {
  const r = await api('GET', '/api/v1/history');
  if (!r.ok || !r.data) return; // Without the event log the chart starts now.
  hist = new StatusHistory();
  hist.seed(r.data.status);
  points = r.data.points.map((p) => ({ tick: p.tick, totals: Object.fromEntries(p.totals.map((v, i) => [i, v])) }));
  draw();
}

function totalsNow() {
  return Object.fromEntries(view.standings.map((s) => [s.teamId, s.total]));
}

const stream = new LiveStream('/api/v1/live', {
  state: setConn,
  snapshot(msg) {
    view = normalise(msg);
    loadHistory();
    draw();
  },
  message(msg) {
    merge(view, msg, (tick, status) => {
      hist.tickEnded(tick, status);
      if (!view.frozen) points.push({ tick: tick + 1, totals: totalsNow() });
    });
    draw();
  },
});

// draw coalesces bursts of messages into one repaint per frame.
function draw() {
  if (drawPending || !view) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    drawBanner();
    standings.render(view);
    renderMatrix($('matrix'), view, hist);
    renderTicker($('ticker'), view);
    drawChartNow();
    drawClock();
  });
}

function drawBanner() {
  const b = $('banner');
  const { text, cls } = bannerText(view);
  b.textContent = text;
  b.className = `banner ${cls}`;
  b.hidden = text === '';
}

// chartRoles lists the role groups a chart can show: totals of different
// roles are not on one scale.
function chartRoles() {
  const roles = [...new Set(view.standings.map((s) => s.role))];
  return roles.sort((a, b) => (ROLE_ORDER[a] ?? 9) - (ROLE_ORDER[b] ?? 9));
}

function drawChartNow() {
  const roles = chartRoles();
  if (!roles.includes(chartRole)) chartRole = roles.find(attacks) ?? roles[0] ?? null;
  const tabs = $('chart-tabs');
  tabs.replaceChildren(...(roles.length > 1 ? roles.map((r) => h('button', {
    type: 'button', class: 'tab', 'aria-pressed': String(r === chartRole), text: t(`role.${r}`),
    onclick: () => {
      chartRole = r;
      draw();
    },
  })) : []));
  const lines = view.standings.filter((s) => s.role === chartRole).slice(0, CHART_TEAMS);
  const now = view.tick + (clockState(view, scoring?.tickSeconds)?.done ?? 0);
  const series = lines.map((s) => {
    const pts = points.filter((p) => s.teamId in p.totals).map((p) => [p.tick, p.totals[s.teamId]]);
    if (view.tick > 0) pts.push([Math.max(now, pts.length ? pts[pts.length - 1][0] : 0), s.total]);
    return { name: s.team, points: pts };
  });
  const ok = drawChart($('chart'), series, {
    xLabel: t('board.chartAxis'), label: t('board.chartLabel', { n: series.length }),
  });
  $('chart-empty').hidden = ok;
  const total = view.standings.filter((s) => s.role === chartRole).length;
  $('chart-note').textContent = total > CHART_TEAMS ? t('board.chartTop', { n: CHART_TEAMS }) : '';
}

function drawClock() {
  if (!view) return;
  $('tick').textContent = view.tick ? String(view.tick) : '–';
  const c = clockState(view, scoring?.tickSeconds);
  $('countdown').textContent = c ? c.text : '–';
  const bar = $('tick-progress');
  bar.value = c ? c.done : 0;
  $('phase').textContent = t(`phase.${view.phase}`);
  $('phase').dataset.phase = view.phase;
}

async function main() {
  setupChrome();
  await initLang();
  onLangChange(() => draw());
  scoring = await scenario();
  if (scoring?.title) $('exercise').textContent = scoring.title;
  stream.start();
  setInterval(drawClock, 500);
  // Redraw the chart's "now" point as the tick goes by, and on resize.
  setInterval(() => view && drawChartNow(), 5000);
  new ResizeObserver(() => view && drawChartNow()).observe($('chart-box'));
  window.matchMedia('(max-width: 600px)').addEventListener('change', draw);
}

main();
