// Building the page from API data. Everything goes through text nodes and attributes, never
// innerHTML: names, health details and config errors come from the config file, real servers
// and checks, and must not become markup.

// h('td', {class: 'num', dataset: {backend: 'rs1'}, onclick: fn}, 'text', node, [more])
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// Replaces an element's children, skipping null/false ones as h() does (the DOM's own
// append would write them out as "null").
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const units = ['', 'k', 'M', 'G', 'T'];

// 1234567 -> "1.23 M": rates and counters, base 1000.
export function si(n, digits = 3) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  let v = Number(n);
  let u = 0;
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000;
    u += 1;
  }
  const text = u === 0 && Number.isInteger(v) ? String(v) : v.toPrecision(digits);
  return units[u] ? `${text} ${units[u]}` : text;
}

// Bytes in base 1024, as people read memory and transfer sizes.
export function bytes(n) {
  if (n === undefined || n === null) return '–';
  const names = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let u = 0;
  while (Math.abs(v) >= 1024 && u < names.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${u === 0 ? v : v.toPrecision(3)} ${names[u]}`;
}

export function duration(seconds) {
  if (seconds === undefined || seconds === null) return '–';
  let s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hh = Math.floor(s / 3600);
  s -= hh * 3600;
  const mm = Math.floor(s / 60);
  s -= mm * 60;
  if (d) return `${d}d ${hh}h ${mm}m`;
  if (hh) return `${hh}h ${mm}m ${s}s`;
  if (mm) return `${mm}m ${s}s`;
  return `${s}s`;
}

// A small labelled pill: state names double as CSS classes (up, down, draining, master...).
export function badge(text, kind = text) {
  return h('span', { class: `badge ${String(kind).replace(/[^a-z0-9_-]/gi, '')}` }, text);
}
