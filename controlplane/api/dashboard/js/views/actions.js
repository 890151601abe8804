// Actions: every backend of every service on one compact table with its operations, and the
// log of what was done from this browser with shoald's answer to each — the place for a
// maintenance window (drain rs2, wait, disable it, work, enable it).

import { h, clear, badge } from '../dom.js';
import * as actions from '../actions.js';
import { healthBadge } from './services.js';

function logTable() {
  if (actions.log.length === 0) return h('p', { class: 'muted' }, 'nothing done from this browser yet');
  return h('table', { class: 'grid compact', id: 'action-log' },
    h('thead', {}, h('tr', {}, ['Time', 'Backend', 'Operation', 'Result'].map((c) => h('th', {}, c)))),
    h('tbody', {}, actions.log.map((e) => h('tr', { class: e.ok ? 'ok' : 'failed' },
      h('td', {}, e.time.toLocaleTimeString()),
      h('td', {}, `${e.service}/${e.backend}`),
      h('td', {}, e.op),
      h('td', {}, e.ok ? badge('done', 'up') : badge('refused', 'down'), ' ', e.message)))));
}

export function mount(root, state) {
  const table = h('div');
  const logBox = h('div');
  root.append(h('h1', {}, 'Actions'),
    h('p', { class: 'muted' }, 'Drain: no new connections, the open ones finish. Disable: out now, its connections move. ',
      'Each operation asks for confirmation; admin states survive health changes and reloads.'),
    h('section', { class: 'card wide' }, h('h2', {}, 'Backends'), table),
    h('section', { class: 'card wide' }, h('h2', {}, 'Done from this browser'), logBox));
  let built = null;
  const rows = new Map();  // "svc/backend" -> {b, state cell, weight cell, buttons}
  function update() {
    if (!state.services) return;
    const shape = JSON.stringify(state.services.map((s) => [s.name, s.backends.map((b) => b.name)]));
    if (shape !== built) {
      built = shape;
      rows.clear();
      const body = h('tbody');
      for (const svc of state.services) {
        for (const b of svc.backends) {
          const copy = { ...b };
          const r = {
            b: copy,
            health: h('td'),
            admin: h('td'),
            weight: h('td', { class: 'num weight' }),
            buttons: actions.buttons(h, svc.name, copy, () => { state.poll(); update(); }),
          };
          rows.set(`${svc.name}/${b.name}`, r);
          body.append(h('tr', { dataset: { service: svc.name, backend: b.name } },
            h('td', {}, svc.name), h('td', {}, h('strong', {}, b.name)), h('td', {}, h('code', {}, `${b.address}:${b.port}`)),
            r.health, r.admin, r.weight, h('td', {}, r.buttons)));
        }
      }
      clear(table).append(h('table', { class: 'grid', id: 'action-table' },
        h('thead', {}, h('tr', {}, ['Service', 'Backend', 'Address', 'Health', 'Admin state', 'Weight', ''].map((c) => h('th', {}, c)))),
        body));
    }
    for (const svc of state.services) {
      for (const b of svc.backends) {
        const r = rows.get(`${svc.name}/${b.name}`);
        Object.assign(r.b, b);
        clear(r.health).append(healthBadge(b));
        clear(r.admin).append(badge(b.admin_state), b.accepts_new_flows === false ? ' no new flows' : '');
        r.weight.textContent = `${b.effective_weight ?? '–'} / ${b.weight}`;
        actions.refreshButtons(r.buttons, b);
      }
    }
    clear(logBox).append(logTable());
  }
  update();
  return { update };
}
