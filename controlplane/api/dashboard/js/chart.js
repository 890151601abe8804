// Rate charts on <canvas>: a few lines over the last minutes, drawn whole on every poll.
// A few hundred points per line is far below what a redraw costs, so there is no
// incremental drawing to get wrong.

const palette = ['#2f6fdf', '#d9822b', '#2e9d57', '#b84ac6', '#c23b3b', '#128a8a', '#7a6b2a'];

export function colour(i) {
  return palette[i % palette.length];
}

// A "nice" upper bound for the y axis (1, 2 or 5 times a power of ten) so that the grid
// lines fall on round numbers.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// series: [{label, points: [[t_ms, value], ...]}]; window_s: the time span shown, ending now.
// format: value -> axis label. bare: lines only (a sparkline in a table cell).
export function drawChart(canvas, series, { windowSeconds = 300, format = String, now = Date.now(), bare = false } = {}) {
  // Drawn at the device's pixel ratio, sized by CSS: crisp on any screen.
  const ratio = window.devicePixelRatio || 1;
  const cssWidth = canvas.clientWidth || 600;
  const cssHeight = canvas.clientHeight || 160;
  if (canvas.width !== Math.round(cssWidth * ratio) || canvas.height !== Math.round(cssHeight * ratio)) {
    canvas.width = Math.round(cssWidth * ratio);
    canvas.height = Math.round(cssHeight * ratio);
  }
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, cssWidth, cssHeight);

  const left = bare ? 1 : 56;
  const right = bare ? 1 : 8;
  const top = bare ? 3 : 22;
  const bottom = bare ? 3 : 20;
  const w = cssWidth - left - right;
  const hgt = cssHeight - top - bottom;
  const t0 = now - windowSeconds * 1000;

  let max = 0;
  for (const s of series) for (const [t, v] of s.points) if (t >= t0 && v > max) max = v;
  const ymax = niceMax(max);
  const x = (t) => left + ((t - t0) / (windowSeconds * 1000)) * w;
  const y = (v) => top + hgt - (v / ymax) * hgt;

  const style = getComputedStyle(canvas);
  const ink = style.getPropertyValue('--chart-ink').trim() || '#555';
  const grid = style.getPropertyValue('--chart-grid').trim() || '#e3e3e3';

  if (bare) {
    g.strokeStyle = grid;
    g.strokeRect(0.5, 0.5, cssWidth - 1, cssHeight - 1);
    drawLines(g, series, t0, x, y);
    return;
  }

  g.font = '11px system-ui, sans-serif';
  g.lineWidth = 1;
  g.strokeStyle = grid;
  g.fillStyle = ink;
  g.textBaseline = 'middle';
  g.textAlign = 'right';
  for (let i = 0; i <= 4; i += 1) {
    const v = (ymax * i) / 4;
    const yy = Math.round(y(v)) + 0.5;
    g.beginPath();
    g.moveTo(left, yy);
    g.lineTo(left + w, yy);
    g.stroke();
    g.fillText(format(v), left - 6, yy);
  }
  g.textAlign = 'center';
  g.textBaseline = 'top';
  const step = windowSeconds > 120 ? 60 : windowSeconds > 30 ? 15 : 5;
  for (let s = 0; s <= windowSeconds; s += step) {
    const xx = Math.round(x(now - s * 1000)) + 0.5;
    g.beginPath();
    g.moveTo(xx, top);
    g.lineTo(xx, top + hgt);
    g.stroke();
    g.fillText(s === 0 ? 'now' : `−${s} s`, Math.min(Math.max(xx, left + 14), left + w - 14), top + hgt + 4);
  }

  drawLines(g, series, t0, x, y);

  // Legend across the top, each label in its line's colour.
  g.textAlign = 'left';
  g.textBaseline = 'middle';
  let lx = left;
  series.forEach((s, i) => {
    g.fillStyle = s.colour ?? colour(i);
    g.fillRect(lx, 7, 10, 3);
    g.fillStyle = ink;
    g.fillText(s.label, lx + 14, 9);
    lx += g.measureText(s.label).width + 30;
  });
  if (!series.some((s) => s.points.some(([t]) => t >= t0))) {
    g.textAlign = 'center';
    g.fillStyle = ink;
    g.fillText('collecting samples…', left + w / 2, top + hgt / 2);
  }
}

function drawLines(g, series, t0, x, y) {
  series.forEach((s, i) => {
    const pts = s.points.filter(([t]) => t >= t0);
    g.strokeStyle = s.colour ?? colour(i);
    g.lineWidth = 1.6;
    g.beginPath();
    pts.forEach(([t, v], j) => (j === 0 ? g.moveTo(x(t), y(v)) : g.lineTo(x(t), y(v))));
    g.stroke();
  });
}
