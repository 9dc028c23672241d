// Small DOM and HTTP helpers shared by every page. Text always goes in
// through textContent or attributes: team names, services and log lines
// come from outside and are never parsed as HTML.

import { t, setLang, lang, onLangChange } from './i18n.js';

export const $ = (id) => document.getElementById(id);

function set(e, attrs) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.setAttribute('class', v);
    else if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
}

function fill(e, kids) {
  for (const c of kids.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
}

// h makes an HTML element: h('td', {class: 'x', text: '…'}, ...children).
export function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  set(e, attrs);
  fill(e, kids);
  return e;
}

const SVGNS = 'http://www.w3.org/2000/svg';

// s makes an SVG element.
export function s(tag, attrs, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  set(e, attrs);
  fill(e, kids);
  return e;
}

// api calls the JSON API with the session cookie and never throws: the
// caller gets ok, status, the decoded body and the server's reason.
export async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch (err) {
    return { ok: false, status: 0, data: null, error: String(err.message ?? err) };
  }
  let data = null;
  if ((r.headers.get('Content-Type') ?? '').includes('json')) {
    try {
      data = await r.json();
    } catch {
      data = null;
    }
  }
  const error = r.ok ? '' : (data && typeof data.error === 'string' ? data.error : r.statusText || `HTTP ${r.status}`);
  return { ok: r.ok, status: r.status, data, error };
}

// statusBadge shows a service status as text on a coloured badge: the
// colour helps, the text says it.
export function statusBadge(st) {
  const known = /^(OK|RECOVERING|MUMBLE|OFFLINE|INTERNAL_ERROR)$/.test(st ?? '');
  const name = known ? st : 'UNKNOWN';
  return h('span', {
    class: `st st-${name}`,
    title: t(`status.${name}`),
    dataset: { status: name },
    text: known ? (st === 'INTERNAL_ERROR' ? 'CHECKER ERROR' : st) : t('status.unknownShort'),
  });
}

// setupChrome wires what every page's header has: the language switch and
// the current page's link.
export function setupChrome() {
  const btn = $('lang');
  if (btn) {
    const label = () => {
      btn.textContent = t('lang.switch');
      btn.setAttribute('aria-label', t('lang.switch.label'));
      btn.lang = lang() === 'vi' ? 'en' : 'vi';
    };
    btn.addEventListener('click', () => setLang(lang() === 'vi' ? 'en' : 'vi'));
    onLangChange(label);
    label();
  }
  onLangChange(() => {
    const c = $('conn');
    if (c) setConn(c.dataset.state);
  });
  const here = location.pathname.replace(/^\/$/, '/index.html');
  for (const a of document.querySelectorAll('.nav a')) {
    if (new URL(a.href).pathname === here) a.setAttribute('aria-current', 'page');
  }
}

// setConn shows the stream's state in words and as data-state for tests.
export function setConn(state) {
  const c = $('conn');
  if (!c) return;
  c.dataset.state = state;
  c.textContent = t(`conn.${state}`);
}
