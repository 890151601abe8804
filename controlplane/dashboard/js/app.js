// The dashboard's shell: login, hash routes (#/overview, #/services, #/actions, #/config),
// the header, and one State polled once a second while logged in.
//
// Whether we are logged in is only known by asking: the session cookie is HttpOnly. So the
// page starts by polling, and the first 401 (then or any time later, when the session
// expires or shoald restarts) shows the login form.

import { h, duration } from './dom.js';
import { post, onUnauthorized } from './api.js';
import { State } from './state.js';
import * as overview from './views/overview.js';
import * as services from './views/services.js';
import * as actionsView from './views/actions.js';
import * as config from './views/config.js';

const routes = { overview, services, actions: actionsView, config };
const state = new State();
const view = document.getElementById('view');
const header = document.getElementById('top');
let current = null;        // the mounted view: {update()}
let loggedIn = false;

function route() {
  const name = location.hash.replace(/^#\/?/, '').split('/')[0];
  return routes[name] ? name : 'overview';
}

function show() {
  if (!loggedIn) return;
  const name = route();
  for (const a of header.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.route === name);
  document.title = `shoal · ${name}`;
  view.replaceChildren();
  view.dataset.page = name;
  current = routes[name].mount(view, state);
}

function showLogin(message) {
  loggedIn = false;
  state.clear();
  current = null;
  header.hidden = true;
  view.dataset.page = 'login';
  document.title = 'shoal · log in';
  view.replaceChildren(document.getElementById('login-template').content.cloneNode(true));
  const form = document.getElementById('login-form');
  const error = document.getElementById('login-error');
  if (message) {
    error.textContent = message;
    error.hidden = false;
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = form.token.value;
    form.querySelector('button').disabled = true;
    try {
      await post('/v1/login', { token });
      enter();
    } catch (e) {
      error.textContent = e.status === 401 ? `Login refused: ${e.message}` : e.message;
      error.hidden = false;
      form.token.select();
    } finally {
      form.querySelector('button').disabled = false;
    }
  });
  document.getElementById('token').focus();
}

function enter() {
  loggedIn = true;
  header.hidden = false;
  show();
  state.start();
}

onUnauthorized(() => {
  if (loggedIn) showLogin('Your session has ended: log in again.');
  else if (view.dataset.page !== 'login') showLogin();
});

state.addEventListener('update', () => {
  if (!loggedIn) return;
  const s = state.status;
  document.getElementById('node').textContent = s ? `${s.node} · shoal ${s.version} · up ${duration(s.uptime_seconds)}` : '';
  const poll = document.getElementById('poll-state');
  poll.textContent = state.lastError ? `⚠ ${state.lastError}` : 'live';
  poll.className = state.lastError ? 'error' : 'muted live';
  current?.update();
});

window.addEventListener('hashchange', show);

document.getElementById('logout').addEventListener('click', async () => {
  try {
    await post('/v1/logout');
  } catch {
    // Already logged out (401) or shoald gone: the login form is the right place either way.
  }
  showLogin('Logged out.');
});

// Entry: the status call says whether the cookie (if any) still opens a session; a 401 lands
// in onUnauthorized above and shows the form.
state.poll().then(() => {
  if (state.lastOk) enter();
  else if (view.dataset.page !== 'login') showLogin(state.lastError ?? undefined);
});
// Keeps the loading page from being blank while that first answer is awaited.
view.append(h('p', { class: 'muted' }, 'connecting to shoald…'));
