// Overview: this director (/v1/status), its VRRP instances when it runs any, connection sync
// and BGP announcement when configured, and the
// dataplane's totals (/v1/counters) — the first page an operator opens when paged.

import { h, clear, si, duration, badge } from '../dom.js';

function kv(rows) {
  return h('dl', { class: 'kv' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function directorCard(status) {
  return h('section', { class: 'card', id: 'director' },
    h('h2', {}, 'Director'),
    kv([
      ['Node', status.node],
      ['Version', status.version],
      ['PID', status.pid],
      ['Uptime', duration(status.uptime_seconds)],
      ['Config', h('code', {}, status.config)],
      ['Services', status.services],
      ['Backends', status.backends],
      ['Workers', status.workers],
    ]));
}

// `vrrp` joins /v1/status once shoald runs its VRRP instances; until then (and on a
// director configured without any) the card says so instead of showing nothing.
function vrrpCard(status) {
  const instances = Array.isArray(status.vrrp) ? status.vrrp : [];
  const body = instances.length === 0
    ? h('p', { class: 'muted', id: 'no-vrrp' }, 'no VRRP instances')
    : h('table', { class: 'grid', id: 'vrrp' },
      h('thead', {}, h('tr', {}, ['Instance', 'VRID', 'State', 'Priority', 'Master', 'Peers']
        .map((c) => h('th', { class: c === 'VRID' || c === 'Priority' ? 'num' : null }, c)))),
      h('tbody', {}, instances.map((v) => h('tr', { dataset: { instance: v.name } },
        h('td', {}, v.name),
        h('td', { class: 'num' }, v.vrid),
        h('td', {}, badge(v.state ?? 'init')),
        h('td', { class: 'num' }, v.priority),
        h('td', {}, v.master ?? v.master_address ?? '–'),
        h('td', {}, Array.isArray(v.peers) && v.peers.length
          ? v.peers.map((p) => (typeof p === 'string' ? p
            : `${p.address ?? p.name ?? '?'}${p.priority !== undefined ? ` (${p.priority})` : ''}`)).join(', ')
          : '–')))));
  return h('section', { class: 'card', id: 'vrrp-card' }, h('h2', {}, 'VRRP'), body);
}

// Connection sync, on a director configured with it: the pull, the flows held for peers and
// what went each way; drops only when there are some.
function syncCard(status) {
  const c = status.connection_sync;
  if (!c) return null;
  const drops = nonZero(c.drops);
  return h('section', { class: 'card', id: 'sync-card' },
    h('h2', {}, 'Connection sync ', badge(c.pull, c.pull === 'pulling' ? 'draining' : 'up')),
    kv([
      ['Group', h('code', {}, c.group)],
      ['Flows held for peers', `${si(c.table?.entries)} of ${si(c.table?.capacity)}`],
      ['Sent', `${si(c.sent?.flows)} flows in ${si(c.sent?.messages)} datagrams`],
      ['Received', `${si(c.received?.flows)} flows in ${si(c.received?.messages)} datagrams`],
      ['Installed / removed / aged', `${si(c.installed)} / ${si(c.removed)} / ${si(c.aged)}`],
      ['Claimed after a takeover', si(c.claimed)],
      ['Events lost', si(c.events_lost)],
      ['Drops', drops.length === 0 ? 'none' : drops.map(([k, n]) => `${k} ${si(n)}`).join(', ')],
    ]));
}

// BGP announcement, on a director configured with it: each VIP (announced, or why not) and
// each BGP session as bird reports it on its control socket.
function bgpCard(status) {
  const b = status.bgp;
  if (!b) return null;
  const vipState = (v) => {
    if (!v.offered && v.in_bird) return badge('being withdrawn', 'draining');
    if (v.announced) return badge('announced', 'up');
    return badge(v.offered ? 'no session up' : 'not announced', 'down');
  };
  return h('section', { class: 'card', id: 'bgp-card' },
    h('h2', {}, 'BGP ', b.director_withdrawn ? badge('director withdrawn', 'draining')
      : badge(b.bird?.reachable ? 'bird answers' : 'bird unreachable', b.bird?.reachable ? 'up' : 'down')),
    b.bird?.error ? h('p', { class: 'muted' }, b.bird.error) : null,
    h('table', { class: 'grid', id: 'bgp-vips' },
      h('thead', {}, h('tr', {}, ['VIP', 'Services', 'State', 'Why not'].map((c) => h('th', {}, c)))),
      h('tbody', {}, (b.vips ?? []).map((v) => h('tr', { dataset: { vip: v.vip } },
        h('td', {}, v.vip), h('td', {}, (v.services ?? []).join(', ')), h('td', {}, vipState(v)),
        h('td', {}, v.offered ? '–' : (v.why ?? '–')))))),
    h('table', { class: 'grid compact', id: 'bgp-sessions' },
      h('thead', {}, h('tr', {}, ['Session', 'State', 'Info', 'Since'].map((c) => h('th', {}, c)))),
      h('tbody', {}, (b.sessions ?? []).map((s) => h('tr', { dataset: { session: s.name } },
        h('td', {}, s.name), h('td', {}, badge(s.state, s.established ? 'up' : 'down')),
        h('td', {}, s.info || '–'), h('td', {}, s.since || '–'))))));
}

function nonZero(obj) {
  return Object.entries(obj ?? {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
}

function countersCard(counters) {
  const t = counters.total ?? {};
  const drops = nonZero(t.drops);
  const control = nonZero(t.control);
  const reasons = (title, list, id) => h('div', { class: 'reasons', id },
    h('h3', {}, title),
    list.length === 0 ? h('p', { class: 'muted' }, 'none')
      : h('table', { class: 'grid compact' }, h('tbody', {},
        list.map(([k, n]) => h('tr', {}, h('td', {}, h('code', {}, k)), h('td', { class: 'num' }, si(n)))))));
  return h('section', { class: 'card wide', id: 'counters' },
    h('h2', {}, 'Dataplane totals ', t.balanced === false
      ? badge('unbalanced', 'down') : badge('rx = tx + drops + to control', 'up')),
    h('div', { class: 'tiles' },
      [['rx', t.rx], ['tx', t.tx], ['dropped', t.dropped], ['to control', t.to_control],
        ['flows created', t.flows_created], ['flows rescheduled', t.flows_rescheduled]]
        .map(([k, v]) => h('div', { class: 'tile', dataset: { counter: k } },
          h('span', { class: 'tile-value', title: String(v ?? '') }, si(v)), h('span', { class: 'tile-label' }, k)))),
    h('div', { class: 'columns' },
      reasons('Drops by reason', drops, 'drops'),
      reasons('Handed to the control plane', control, 'control'),
      h('div', { class: 'reasons' },
        h('h3', {}, 'Workers'),
        h('table', { class: 'grid compact' },
          h('thead', {}, h('tr', {}, ['Worker', 'rx', 'tx', 'dropped', 'flows'].map((c, i) => h('th', { class: i ? 'num' : null }, c)))),
          h('tbody', {}, (counters.workers ?? []).map((w) => h('tr', {},
            h('td', {}, w.worker), h('td', { class: 'num' }, si(w.rx)), h('td', { class: 'num' }, si(w.tx)),
            h('td', { class: 'num' }, si(w.dropped)), h('td', { class: 'num' }, si(w.flows)))))))),
    (counters.exception_paths ?? []).length === 0 ? null : h('div', { class: 'reasons' },
      h('h3', {}, 'Exception paths'),
      h('table', { class: 'grid compact' },
        h('thead', {}, h('tr', {}, ['Interface', 'to kernel', 'from kernel', 'dropped'].map((c, i) => h('th', { class: i ? 'num' : null }, c)))),
        h('tbody', {}, counters.exception_paths.map((p) => h('tr', {},
          h('td', {}, p.interface), h('td', { class: 'num' }, si(p.to_kernel)),
          h('td', { class: 'num' }, si(p.from_kernel)), h('td', { class: 'num' }, si(p.dropped))))))));
}

export function mount(root, state) {
  const body = h('div', { class: 'cards' });
  root.append(h('h1', {}, 'Overview'), body);
  const update = () => {
    if (!state.status || !state.counters) {
      if (!body.firstChild) body.append(h('p', { class: 'muted' }, 'loading…'));
      return;
    }
    clear(body).append(...[directorCard(state.status), vrrpCard(state.status),
      syncCard(state.status), bgpCard(state.status), countersCard(state.counters)].filter(Boolean));
  };
  update();
  return { update };
}
