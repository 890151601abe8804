// Services and their real servers (/v1/services): health with the last check's result,
// weights, admin state, traffic, and live rate charts per service and per backend from the
// history State keeps. The table is built once per set of services and backends and then
// updated in place each second, so that a button being clicked is never swapped under the
// pointer and the charts keep their canvases.

import { h, clear, si, bytes, badge } from '../dom.js';
import { drawChart, colour } from '../chart.js';
import { kHistorySeconds } from '../state.js';
import * as actions from '../actions.js';

const metrics = {
  fps: { label: 'new connections/s', format: (v) => si(v) },
  pps: { label: 'packets/s', format: (v) => si(v) },
  bps: { label: 'bytes/s', format: (v) => `${bytes(v)}/s` },
};

export function healthBadge(b) {
  const hc = b.health ?? {};
  if (hc.check === 'none') return badge('unchecked', 'unknown');
  if (hc.up === undefined) return badge('pending', 'unknown');
  return badge(hc.up ? 'up' : 'down');
}

function lastCheck(b) {
  const last = b.health?.last;
  if (!last) return b.health?.check === 'none' ? 'no health check' : 'not checked yet';
  const ago = last.seconds_ago === undefined ? '' : `, ${last.seconds_ago.toFixed(1)} s ago`;
  return `${b.health.check} ${last.pass ? 'passed' : 'failed'}: ${last.detail || '—'} ` +
    `(${last.elapsed_ms.toFixed(1)} ms${ago})`;
}

function adminText(b) {
  const weight = b.admin_weight === null || b.admin_weight === undefined ? '' : `, weight ${b.admin_weight}`;
  return `${b.admin_state}${weight}`;
}

// One backend's row; refresh(b) rewrites its cells from a new answer.
function backendRow(state, svc, b, index, metricOf) {
  const cells = {
    health: h('td', { class: 'health' }),
    check: h('td', { class: 'check' }),
    weight: h('td', { class: 'num weight' }),
    admin: h('td', { class: 'admin' }),
    rates: h('div', { class: 'rates' }),
    totals: h('div', { class: 'totals muted' }),
  };
  const spark = h('canvas', { class: 'spark', width: 160, height: 36 });
  const controls = actions.buttons(h, svc.name, b, () => state.poll());
  const row = h('tr', { dataset: { service: svc.name, backend: b.name } },
    h('td', {}, h('span', { class: 'swatch', style: `background:${colour(index)}` }), h('strong', {}, b.name),
      b.sorry ? h('span', { class: 'muted' }, ' (sorry)') : null),
    h('td', {}, h('code', {}, `${b.address}:${b.port}`)),
    cells.health, cells.check, cells.weight, cells.admin, h('td', { class: 'num traffic' }, cells.rates, cells.totals),
    h('td', { class: 'chart-cell' }, spark),
    h('td', {}, controls));
  const refresh = (nb) => {
    clear(cells.health).append(healthBadge(nb), nb.accepts_new_flows === false ? badge('no new flows', 'draining') : '');
    cells.health.title = nb.health?.reason ?? '';
    cells.check.textContent = lastCheck(nb);
    cells.weight.textContent = `${nb.effective_weight ?? '–'} / ${nb.weight}`;
    cells.weight.title = 'effective weight / weight in the config file';
    clear(cells.admin).append(badge(adminText(nb), nb.admin_state));
    const t = nb.traffic ?? {};
    cells.rates.textContent = `${si(t.new_flows_per_second)} conn/s · ${si(t.packets_per_second)} pkt/s · ${bytes(t.bytes_per_second)}/s`;
    const c = nb.connections ?? {};
    cells.totals.textContent = `${si(c.active)} active · ${si(c.inactive)} inactive · ${si(t.new_flows)} conn · ${si(t.packets)} pkt · ${bytes(t.bytes)}`;
    actions.refreshButtons(controls, nb);
    // The buttons' handlers read the backend they were made with: give them the fresh one
    // (the weight dialog starts from the current weight).
    Object.assign(b, nb);
    const m = metricOf();
    drawChart(spark, [{ label: '', points: state.series(`${svc.name}/${nb.name}`, m), colour: colour(index) }],
      { windowSeconds: 120, format: metrics[m].format, bare: true });
  };
  return { row, refresh };
}

function serviceCard(state, svc, metricOf) {
  const chart = h('canvas', { class: 'chart', width: 800, height: 180 });
  const allDown = h('span');
  const quorum = h('span', { class: 'quorum' });
  const rows = svc.backends.map((b, i) => backendRow(state, svc, { ...b }, i, metricOf));
  const card = h('section', { class: 'card wide service', dataset: { service: svc.name } },
    h('h2', {}, svc.name, ' ', h('span', { class: 'muted' },
      `${svc.protocol.toUpperCase()} ${svc.vip}:${svc.ports ?? svc.port} · ${svc.forwarding.toUpperCase()} · ${svc.scheduler === 'maglev' ? `maglev ${svc.hash}` : svc.scheduler}${svc.persistence ? ` · persistent ${svc.persistence.timeout} s mask ${svc.persistence.netmask}` : ''} · all down: ${svc.all_down}`),
    ' ', allDown, ' ', quorum),
    chart,
    h('table', { class: 'grid backends' },
      h('thead', {}, h('tr', {}, ['Backend', 'Address', 'Health', 'Last check', 'Weight', 'Admin',
        'Traffic: rate, total', 'Last 2 min', ''].map((c) => h('th', {}, c)))),
      h('tbody', {}, rows.map((r) => r.row))));
  const refresh = (nsvc) => {
    const up = nsvc.backends.filter((b) => b.accepts_new_flows).length;
    clear(allDown).append(up === 0 ? badge('no backend takes new flows', 'down') : badge(`${up}/${nsvc.backends.length} take new flows`, 'up'));
    // The healthy weight against the quorum, shown when one is set or it is lost.
    const q = nsvc.quorum ?? { up: true, needs: 1 };
    clear(quorum);
    if (!q.up || q.needs !== 1)
      quorum.append(badge(`quorum ${q.healthy_weight}/${q.needs}${q.up ? '' : ' lost'}`, q.up ? 'up' : 'down'));
    nsvc.backends.forEach((b, i) => rows[i].refresh(b));
    const m = metricOf();
    const series = nsvc.backends.map((b, i) => ({ label: b.name, points: state.series(`${nsvc.name}/${b.name}`, m), colour: colour(i) }));
    series.push({ label: 'total', points: state.series(nsvc.name, m), colour: '#444' });
    drawChart(chart, series, { windowSeconds: kHistorySeconds, format: metrics[m].format });
  };
  return { card, refresh };
}

// Services and backends by name: when it changes (a reload), the page is rebuilt.
const shape = (services) => JSON.stringify(services.map((s) => [s.name, s.backends.map((b) => b.name)]));

export function mount(root, state) {
  let metric = 'fps';
  const select = h('select', { id: 'metric', onchange: () => { metric = select.value; update(); } },
    Object.entries(metrics).map(([k, m]) => h('option', { value: k }, m.label)));
  const body = h('div', { class: 'cards' });
  root.append(h('div', { class: 'title-row' }, h('h1', {}, 'Services and real servers'),
    h('label', {}, 'Charts show ', select)), body);
  let built = null;
  let cards = [];
  function update() {
    if (!state.services) {
      if (!body.firstChild) body.append(h('p', { class: 'muted' }, 'loading…'));
      return;
    }
    if (built !== shape(state.services)) {
      built = shape(state.services);
      cards = state.services.map((s) => serviceCard(state, s, () => metric));
      clear(body).append(...cards.map((c) => c.card));
      if (cards.length === 0) body.append(h('p', { class: 'muted' }, 'no services configured'));
    }
    state.services.forEach((s, i) => cards[i].refresh(s));
  }
  update();
  return { update };
}
