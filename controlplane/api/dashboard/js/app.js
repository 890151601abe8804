// The dashboard's shell: hash routes (#/overview, #/services, #/actions, #/config), the
// header, and one State polled once a second.
//
// shoald serves this page only to a session (login.html to anyone else), but the session can
// end while the page is open (logout elsewhere, expiry, a restarted shoald): the first 401
// then sends the browser back to login.html, which returns here, to the same hash, after a
// new login.

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
let current = null;  // the mounted view: {update()}
let leaving = false;

function route() {
  const name = location.hash.replace(/^#\/?/, '').split('/')[0];
  return routes[name] ? name : 'overview';
}

function show() {
  const name = route();
  for (const a of header.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.route === name);
  document.title = `shoal · ${name}`;
  view.replaceChildren();
  view.dataset.page = name;
  current = routes[name].mount(view, state);
}

function toLogin(why) {
  if (leaving) return;  // several requests may get their 401 at once
  leaving = true;
  state.stop();
  location.replace(`/login.html${why ? `?why=${why}` : ''}${location.hash}`);
}

onUnauthorized(() => toLogin('ended'));

state.addEventListener('update', () => {
  const s = state.status;
  document.getElementById('node').textContent = s ? `${s.node} · shoal ${s.version} · up ${duration(s.uptime_seconds)}` : '';
  const poll = document.getElementById('poll-state');
  poll.textContent = state.lastError ? `⚠ ${state.lastError}` : 'live';
  poll.className = state.lastError ? 'error' : 'muted live';
  current?.update();
});

window.addEventListener('hashchange', show);

document.getElementById('logout').addEventListener('click', async () => {
  state.stop();
  try {
    await post('/v1/logout');
  } catch {
    // Already logged out (401) or shoald gone: the login page is the right place either way.
  }
  leaving = false;
  toLogin('logout');
});

view.append(h('p', { class: 'muted' }, 'connecting to shoald…'));
show();
state.start();
