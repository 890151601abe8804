// Configuration: the running config (GET /v1/config), a candidate edited in the browser,
// validated by shoald itself (POST /v1/config/validate: the same checks a reload makes, with
// the line of each error and the diff against what runs) and applied (POST /v1/config/apply).
// Validation is never done here: one validator, shoald's, so the page cannot disagree with
// the daemon.

import { h, clear, fill } from '../dom.js';
import { get, post } from '../api.js';
import { confirmDialog } from '../actions.js';

// A textarea with line numbers and line highlights. A textarea cannot colour its own lines,
// so a gutter and a layer of marks sit beside and behind it, scrolled with it; lines do not
// wrap (wrap=off) so that line N is always N line-heights down.
function editor({ id, readOnly = false }) {
  const gutter = h('div', { class: 'gutter', 'aria-hidden': 'true' });
  const marks = h('div', { class: 'marks', 'aria-hidden': 'true' });
  const text = h('textarea', { class: 'code', wrap: 'off', spellcheck: 'false', autocapitalize: 'off',
    readonly: readOnly, 'aria-label': readOnly ? 'running configuration' : 'candidate configuration' });
  const box = h('div', { id, class: `editor${readOnly ? ' readonly' : ''}` }, gutter, h('div', { class: 'code-wrap' }, marks, text));
  let flagged = new Map();  // line -> {kind: 'error'|'warning', messages: []}

  const numbers = () => {
    const count = text.value.split('\n').length;
    if (gutter.childElementCount !== count) {
      clear(gutter).append(...Array.from({ length: count }, (_, i) => h('div', { dataset: { line: i + 1 } }, i + 1)));
    }
    for (const el of gutter.children) {
      const f = flagged.get(Number(el.dataset.line));
      el.className = f ? f.kind : '';
      el.title = f ? f.messages.join('\n') : '';
    }
  };
  const sync = () => {
    gutter.scrollTop = text.scrollTop;
    marks.style.transform = `translate(${-text.scrollLeft}px, ${-text.scrollTop}px)`;
  };
  text.addEventListener('scroll', sync);
  text.addEventListener('input', numbers);

  return {
    box,
    text,
    get value() { return text.value; },
    set value(v) { text.value = v; numbers(); sync(); },
    // problems: [{line, message, kind}]; line 0 or missing = about the whole file.
    flag(problems) {
      flagged = new Map();
      for (const p of problems) {
        if (!(p.line > 0)) continue;
        const f = flagged.get(p.line) ?? { kind: p.kind, messages: [] };
        if (p.kind === 'error') f.kind = 'error';
        f.messages.push(p.message);
        flagged.set(p.line, f);
      }
      clear(marks).append(...[...flagged].map(([line, f]) => h('div', {
        class: `mark ${f.kind}`, dataset: { line }, style: `--line:${line - 1}`, title: f.messages.join('\n'),
      })));
      numbers();
      sync();
    },
    // Puts the caret on a line and scrolls it into view.
    goTo(line) {
      const lines = text.value.split('\n');
      const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
      text.focus();
      text.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
      const lineHeight = parseFloat(getComputedStyle(text).lineHeight) || 18;
      text.scrollTop = Math.max(0, (line - 4) * lineHeight);
      sync();
    },
  };
}

function problemList(title, list, kind, ed) {
  if (!list || list.length === 0) return null;
  return h('div', { class: `problems ${kind}` },
    h('h3', {}, `${title} (${list.length})`),
    h('ul', {}, list.map((p) => h('li', { class: kind, dataset: { line: p.line ?? 0 } },
      p.line > 0 ? h('a', { href: '#/config', onclick: (e) => { e.preventDefault(); ed.goTo(p.line); } }, `line ${p.line}`) : 'file',
      ': ', p.message))));
}

function diffList(diff) {
  if (!diff) return null;
  return h('div', { class: 'diff' },
    h('h3', {}, 'Changes against the running config'),
    diff.length === 0 ? h('p', { class: 'muted' }, 'none: the candidate is the running config')
      : h('ul', { id: 'diff' }, diff.map((d) => h('li', {
        class: /\badded\b/.test(d) ? 'added' : /\bremoved\b/.test(d) ? 'removed' : 'changed',
      }, d))));
}

// The candidate outlives the page: an operator who looks at the services halfway through an
// edit finds the edit where it was.
let draft = null;

export function mount(root, state) {
  const running = editor({ id: 'running', readOnly: true });
  const candidate = editor({ id: 'candidate' });
  const runningPath = h('code');
  const outcome = h('div', { id: 'config-outcome', 'aria-live': 'polite' });
  const validateButton = h('button', { type: 'button', id: 'validate' }, 'Validate');
  const applyButton = h('button', { type: 'button', id: 'apply' }, 'Apply');
  const resetButton = h('button', { type: 'button', class: 'quiet', id: 'reset' }, 'Start again from the running config');

  root.append(h('h1', {}, 'Configuration'),
    h('div', { class: 'columns config' },
      h('section', { class: 'card' }, h('h2', {}, 'Running ', runningPath), running.box),
      h('section', { class: 'card' }, h('h2', {}, 'Candidate'), candidate.box,
        h('div', { class: 'buttons' }, validateButton, applyButton, resetButton), outcome)));

  const show = (answer, what) => {
    const errors = (answer.errors ?? []).map((e) => ({ ...e, kind: 'error' }));
    const warnings = (answer.warnings ?? []).map((w) => ({ ...w, kind: 'warning' }));
    candidate.flag([...errors, ...warnings]);
    let headline;
    if (what === 'validate') {
      headline = answer.valid ? h('p', { class: 'ok', id: 'verdict' }, 'Valid: shoald would accept it.')
        : h('p', { class: 'error', id: 'verdict' }, 'Not valid: shoald would refuse it.');
    } else {
      headline = answer.applied ? h('p', { class: 'ok', id: 'verdict' }, 'Applied: shoald now runs this config.')
        // answer.error repeats the first error; it is news only when the list is empty.
        : h('p', { class: 'error', id: 'verdict' }, 'Refused: the running config is untouched.',
          errors.length === 0 && answer.error ? ` ${answer.error}` : null);
    }
    // An invalid candidate has no diff to show (shoald sends an empty one): "no changes"
    // would be wrong.
    const accepted = what === 'validate' ? answer.valid : answer.applied;
    fill(outcome, headline,
      problemList('Errors', errors, 'error', candidate),
      problemList('Warnings', warnings, 'warning', candidate),
      accepted ? diffList(answer.diff) : null);
  };
  const failed = (e) => {
    clear(outcome).append(h('p', { class: 'error', id: 'verdict' }, e.message));
  };

  async function loadRunning(intoCandidate) {
    try {
      const cfg = await get('/v1/config');
      runningPath.textContent = cfg.path ?? '';
      running.value = cfg.text ?? '';
      if (intoCandidate) {
        draft = null;
        candidate.value = cfg.text ?? '';
        candidate.flag([]);
        clear(outcome);
      }
    } catch (e) {
      failed(e);
    }
  }

  // 422 (refused) and 400 still carry the validator's answer: show it like a 200's.
  async function send(what) {
    const path = what === 'validate' ? '/v1/config/validate' : '/v1/config/apply';
    validateButton.disabled = applyButton.disabled = true;
    try {
      show(await post(path, candidate.value), what);
    } catch (e) {
      if (e.body && (Array.isArray(e.body.errors) || 'valid' in e.body || 'applied' in e.body)) show(e.body, what);
      else failed(e);
    } finally {
      validateButton.disabled = applyButton.disabled = false;
    }
  }

  validateButton.addEventListener('click', () => send('validate'));
  applyButton.addEventListener('click', async () => {
    const answer = await confirmDialog({
      title: 'Apply the candidate config',
      text: 'shoald validates it whole and, if it is valid, runs it at once: services and backends that do not change keep their connections.',
      okLabel: 'Apply',
      kind: 'apply',
    });
    if (!answer.confirmed) return;
    await send('apply');
    if (outcome.querySelector('#verdict.ok')) {
      loadRunning(false);
      state.poll();
    }
  });
  resetButton.addEventListener('click', () => loadRunning(true));

  candidate.text.addEventListener('input', () => { draft = candidate.value; });
  if (draft !== null) candidate.value = draft;
  loadRunning(draft === null);
  return { update() {} };  // the config does not change by the second: no polling here
}
