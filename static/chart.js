// A line chart of scores over ticks, drawn as SVG. Each line ends with the
// team's name in the line's colour, so no legend has to be matched by
// colour; the first lines are solid, later ones dashed.

import { s } from './dom.js';
import { fmtNum } from './i18n.js';

const PALETTE = ['#4cc2ff', '#ffb020', '#ff5c8a', '#7ee787', '#c792ea', '#ff8c42', '#2dd4bf', '#f9e64f', '#a3b8ff', '#ff7b72'];
const DASHES = ['', '6 4', '2 3'];

export function seriesStyle(i) {
  return { color: PALETTE[i % PALETTE.length], dash: DASHES[Math.floor(i / PALETTE.length) % DASHES.length] };
}

// niceStep picks a round step that cuts span into about n parts.
function niceStep(span, n) {
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

// drawChart draws series [{name, points: [[x, y], ...]}] into svg, sized
// to its box. xLabel names the x axis; label is the chart's text
// alternative.
export function drawChart(svg, series, { xLabel = '', label = '' } = {}) {
  const W = Math.max(280, Math.round(svg.clientWidth || svg.parentElement?.clientWidth || 600));
  const H = Math.max(180, Math.round(svg.clientHeight || 260));
  const narrow = W < 520;
  const pad = { l: 44, r: narrow ? 96 : 150, t: 12, b: 28 };
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = 0;
  let yMax = 0;
  for (const se of series) {
    for (const [x, y] of se.points) {
      xMin = Math.min(xMin, x);
      xMax = Math.max(xMax, x);
      yMin = Math.min(yMin, y);
      yMax = Math.max(yMax, y);
    }
  }
  const kids = [];
  if (!Number.isFinite(xMin)) {
    svg.replaceChildren();
    return false;
  }
  if (xMax - xMin < 1) xMax = xMin + 1;
  if (yMax - yMin < 1) yMax = yMin + 1;
  const yStep = niceStep(yMax - yMin, 4);
  yMin = Math.floor(yMin / yStep) * yStep;
  yMax = Math.ceil(yMax / yStep) * yStep;
  const X = (x) => pad.l + ((x - xMin) / (xMax - xMin)) * (W - pad.l - pad.r);
  const Y = (y) => H - pad.b - ((y - yMin) / (yMax - yMin)) * (H - pad.t - pad.b);

  for (let y = yMin; y <= yMax + yStep / 2; y += yStep) {
    kids.push(s('line', { class: y === 0 ? 'axis' : 'grid', x1: pad.l, x2: W - pad.r, y1: Y(y), y2: Y(y) }));
    kids.push(s('text', { class: 'tick-label', x: pad.l - 6, y: Y(y) + 4, 'text-anchor': 'end', text: fmtNum(y, 0) }));
  }
  const xStep = Math.max(1, niceStep(xMax - xMin, narrow ? 4 : 8));
  for (let x = Math.ceil(xMin / xStep) * xStep; x <= xMax; x += xStep) {
    kids.push(s('text', { class: 'tick-label', x: X(x), y: H - pad.b + 16, 'text-anchor': 'middle', text: fmtNum(x, 0) }));
  }
  kids.push(s('text', { class: 'axis-label', x: W - pad.r, y: H - 4, 'text-anchor': 'end', text: xLabel }));

  // Labels at the lines' ends, pushed apart so none overlaps another.
  const ends = [];
  series.forEach((se, i) => {
    if (se.points.length === 0) return;
    const st = seriesStyle(i);
    const d = se.points.map(([x, y], k) => `${k ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join('');
    kids.push(s('path', { class: 'line', d, stroke: st.color, 'stroke-dasharray': st.dash || undefined }));
    const [lx, ly] = se.points[se.points.length - 1];
    kids.push(s('circle', { class: 'dot', cx: X(lx), cy: Y(ly), r: 3.5, fill: st.color }));
    ends.push({ y: Y(ly), x: X(lx), name: se.name, color: st.color });
  });
  ends.sort((a, b) => a.y - b.y);
  const gap = 14;
  for (let i = 1; i < ends.length; i++) ends[i].y = Math.max(ends[i].y, ends[i - 1].y + gap);
  const over = ends.length ? ends[ends.length - 1].y - (H - pad.b) : 0;
  if (over > 0) for (const e of ends) e.y -= over;
  const maxChars = narrow ? 11 : 20;
  for (const e of ends) {
    const name = e.name.length > maxChars ? `${e.name.slice(0, maxChars - 1)}…` : e.name;
    kids.push(s('text', { class: 'end-label', x: W - pad.r + 8, y: e.y + 4, fill: e.color, text: name },
      s('title', { text: e.name })));
  }
  svg.replaceChildren(...kids);
  return true;
}
