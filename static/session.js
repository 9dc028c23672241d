// Logging in with a token: POST /api/v1/login sets an HttpOnly session
// cookie, so the page never keeps the token; GET /api/v1/me says who the
// cookie belongs to.

import { $, api } from './dom.js';
import { t } from './i18n.js';

export function me() {
  return api('GET', '/api/v1/me');
}

// setupLogin wires the login form of the page: on success it calls
// onLogin with /api/v1/me's answer; on failure it says why, in words a
// team understands, with the server's own reason after it.
export function setupLogin(onLogin) {
  const form = $('login-form');
  const input = $('token');
  const err = $('login-error');
  const show = $('token-show');
  show.addEventListener('click', () => {
    const hidden = input.type === 'password';
    input.type = hidden ? 'text' : 'password';
    show.dataset.i18n = hidden ? 'login.hide' : 'login.show';
    show.textContent = t(show.dataset.i18n);
    show.setAttribute('aria-pressed', String(hidden));
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const token = input.value.trim();
    if (!token) {
      input.focus();
      return;
    }
    const btn = form.querySelector('button[type="submit"]');
    btn.disabled = true;
    const r = await api('POST', '/api/v1/login', { token });
    btn.disabled = false;
    if (!r.ok) {
      err.textContent = r.status === 401 ? `${t('login.invalid')} (${r.error})` : `${t('login.failed')}: ${r.error}`;
      err.hidden = false;
      input.select();
      input.setAttribute('aria-invalid', 'true');
      return;
    }
    input.value = '';
    input.removeAttribute('aria-invalid');
    onLogin(r.data);
  });
}

export function setupLogout() {
  $('logout').addEventListener('click', async () => {
    await api('POST', '/api/v1/logout');
    location.reload();
  });
}
