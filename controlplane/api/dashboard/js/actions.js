// Backend operations (drain, enable, disable, weight), each asked for in a confirmation
// dialog first: they change where live traffic goes. The outcome — the backend's new state
// or the API's own error message — is kept in a short log shown on the Actions page and
// flashed wherever the action was started from.

import { post, backendPath } from './api.js';

export const operations = {
  drain: {
    label: 'Drain',
    explain: 'It gets no new connections; the connections it has finish there.',
  },
  disable: {
    label: 'Disable',
    explain: 'It is taken out now: its connections move to the other backends.',
  },
  enable: {
    label: 'Enable',
    explain: 'It is back in service with its weight.',
  },
  weight: {
    label: 'Set weight',
    explain: 'Its share of new connections follows the new weight (0 drains it). It is kept until the weight in the config file changes.',
  },
};

export const log = [];  // newest first: {time, service, backend, op, ok, message}
const kLogLength = 50;

const dialog = () => document.getElementById('confirm');

// Shows the confirmation dialog; resolves to {confirmed, weight}. `weight` (a number or
// '') asks for a new weight too. Also used by the Configuration page before an apply.
export function confirmDialog({ title, text, okLabel = 'Confirm', weight = null, kind = '' }) {
  const d = dialog();
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel;
  const row = document.getElementById('confirm-weight-row');
  const input = document.getElementById('confirm-weight');
  row.hidden = weight === null;
  input.required = weight !== null;
  input.value = weight ?? '';
  d.dataset.kind = kind;
  d.returnValue = '';
  return new Promise((resolve) => {
    d.addEventListener('close', () => {
      resolve({ confirmed: d.returnValue === 'ok', weight: Number(input.value) });
    }, { once: true });
    d.showModal();
    (weight !== null ? input : document.getElementById('confirm-ok')).focus();
  });
}

// Asks, then runs one operation. Resolves to the log entry, or null when cancelled.
export async function run(service, backend, op, currentWeight) {
  const spec = operations[op];
  const answer = await confirmDialog({
    title: `${spec.label}: ${service}/${backend}`,
    text: spec.explain,
    okLabel: spec.label,
    weight: op === 'weight' ? (currentWeight ?? '') : null,
    kind: op,
  });
  if (!answer.confirmed) return null;
  const entry = { time: new Date(), service, backend, op, ok: false, message: '' };
  try {
    const body = op === 'weight' ? { weight: answer.weight } : undefined;
    const b = await post(backendPath(service, backend, op), body);
    entry.ok = true;
    entry.message = `${service}/${backend}: ${b.admin_state}, effective weight ${b.effective_weight ?? '–'}` +
      (b.accepts_new_flows === false ? ', no new flows' : '');
  } catch (e) {
    entry.message = `${service}/${backend} ${op}: ${e.message}`;
  }
  if (op === 'weight') entry.op = `weight ${answer.weight}`;
  log.unshift(entry);
  log.length = Math.min(log.length, kLogLength);
  flash(entry);
  return entry;
}

let flashTimer = null;

function flash(entry) {
  let el = document.getElementById('flash');
  if (!el) {
    el = document.createElement('div');
    el.id = 'flash';
    el.setAttribute('role', 'status');
    document.body.append(el);
  }
  el.textContent = entry.message;
  el.className = entry.ok ? 'ok' : 'error';
  el.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

// Which operations make sense in a backend's admin state: the others are greyed out.
function pointless(op, b) {
  return (op === 'enable' && b.admin_state === 'enabled') ||
    (op === 'drain' && b.admin_state === 'draining') ||
    (op === 'disable' && b.admin_state === 'disabled');
}

// Re-greys a set of buttons made by buttons() after a new answer about their backend.
export function refreshButtons(container, b) {
  for (const button of container.querySelectorAll('button[data-op]')) {
    button.disabled = pointless(button.dataset.op, b);
  }
}

// The buttons for one backend, in the order an operator reaches for them. `b` is read when a
// button is clicked, so the caller keeps it up to date (the weight dialog starts from it).
export function buttons(h, service, b, after) {
  const make = (op) => h('button', {
    type: 'button',
    class: `action ${op}`,
    dataset: { op, service, backend: b.name },
    disabled: pointless(op, b),
    onclick: async () => {
      const entry = await run(service, b.name, op, b.effective_weight ?? b.weight);
      if (entry && after) after(entry);
    },
  }, operations[op].label);
  return h('span', { class: 'actions' }, make('drain'), make('disable'), make('enable'), make('weight'));
}
