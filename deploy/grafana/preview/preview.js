// Draws quorate-dashboard.json without Grafana: runs each panel's PromQL against Prometheus'
// HTTP API (query_range; instant queries for tables) and draws the series as SVG.
// Query parameters: dashboard (URL of the JSON), prometheus (base URL; default this origin,
// which is Prometheus itself when served from its --web.user-assets), start, end (Unix seconds),
// step (seconds), and a value for any dashboard variable (e.g. cluster=demo).
'use strict';

const params = new URLSearchParams(location.search);
const kPrometheus = params.get('prometheus') || '';
const kDashboardUrl = params.get('dashboard') || 'quorate-dashboard.json';
const kEnd = Number(params.get('end') || Date.now() / 1000);
const kStart = Number(params.get('start') || kEnd - 15 * 60);
const kStep = Number(params.get('step') || Math.max(1, Math.round((kEnd - kStart) / 240)));
// Grafana's classic palette, so the picture reads like the real dashboard.
const kColors = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff780a', '#f2495c', '#5794f2', '#b877d9',
  '#705da0', '#37872d', '#fade2a', '#447ebc', '#c15c17', '#890f02', '#0a437c', '#6d1f62'];
const kRowHeight = 30;  // pixels per gridPos unit, as Grafana
const kNs = 'http://www.w3.org/2000/svg';

async function api(path, query) {
  const url = `${kPrometheus}/api/v1/${path}?${new URLSearchParams(query)}`;
  const response = await fetch(url);
  let body;
  try {
    body = await response.json();
  } catch (e) {
    throw new Error(`${path}: HTTP ${response.status}, not JSON`);
  }
  if (body.status !== 'success') throw new Error(body.error || `HTTP ${response.status}`);
  return body.data;
}

// Values for the dashboard's variables: from the URL, else All (allValue) for multi-value
// variables, else the first value the variable's label_values() query finds.
async function resolveVariables(dashboard) {
  const values = {};
  for (const v of (dashboard.templating || {}).list || []) {
    if (params.has(v.name)) {
      values[v.name] = params.get(v.name);
    } else if (v.type === 'datasource') {
      values[v.name] = 'prometheus';
    } else if (v.includeAll) {
      values[v.name] = v.allValue || '.*';
    } else {
      const definition = substitute(v.definition || (v.query && v.query.query) || '', values);
      const m = /^label_values\((?:(.*),\s*)?(\w+)\)$/.exec(definition.trim());
      if (!m) throw new Error(`variable ${v.name}: cannot read ${definition}`);
      const query = {start: kStart, end: kEnd};
      if (m[1]) query['match[]'] = m[1];
      const found = await api(`label/${m[2]}/values`, query);
      values[v.name] = found.length ? found[0] : '';
    }
  }
  return values;
}

function substitute(expr, values) {
  const builtins = {
    __rate_interval: `${Math.max(4 * kStep, 20)}s`,
    __interval: `${kStep}s`,
    __range: `${Math.round(kEnd - kStart)}s`,
  };
  const all = {...values, ...builtins};
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a, b) => {
    const name = a || b;
    return name in all ? all[name] : whole;
  });
}

function legendOf(format, metric) {
  if (format && format !== '__auto') {
    return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k) => metric[k] || '');
  }
  const labels = Object.entries(metric).filter(([k]) => k !== '__name__');
  return `${metric.__name__ || ''}{${labels.map(([k, v]) => `${k}="${v}"`).join(', ')}}`;
}

function formatValue(value, unit) {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const fixed = (x) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) :
    Number(x.toFixed(2)).toString());
  if (unit === 's') {
    if (abs !== 0 && abs < 1e-3) return `${fixed(value * 1e6)} µs`;
    if (abs !== 0 && abs < 1) return `${fixed(value * 1e3)} ms`;
    return `${fixed(value)} s`;
  }
  const suffix = {Bps: 'B/s', cps: '/s', pps: 'p/s', reqps: 'req/s'}[unit] || '';
  const scaled = abs >= 1e9 ? [value / 1e9, 'G'] : abs >= 1e6 ? [value / 1e6, 'M'] :
    abs >= 1e3 ? [value / 1e3, 'k'] : [value, ''];
  return `${fixed(scaled[0])}${scaled[1]}${suffix ? ' ' + suffix : ''}`;
}

function el(tag, attrs = {}, text) {
  const node = tag.startsWith('svg:') ? document.createElementNS(kNs, tag.slice(4)) :
    document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function clock(t) {
  return new Date(t * 1000).toISOString().slice(11, 19);
}

// Widens [lo, hi] to multiples of 1, 2 or 5 times a power of ten, four ticks apart, as a
// person would label an axis; a flat series gets a range of 1.
function niceRange(lo, hi) {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / 4;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const tick = [1, 2, 5, 10].map((m) => m * power).find((t) => t >= raw);
  return [Math.floor(lo / tick) * tick, Math.ceil(hi / tick) * tick];
}

// series: [{name, points: [[t, v], ...]}]
function drawTimeseries(body, series, panel) {
  const defaults = (panel.fieldConfig || {}).defaults || {};
  const custom = defaults.custom || {};
  const unit = defaults.unit;
  const legend = el('div', {class: 'legend'});
  series.forEach((s, i) => {
    const item = el('span', {style: `--c: ${kColors[i % kColors.length]}`}, s.name);
    legend.appendChild(item);
  });
  body.appendChild(legend);
  const box = body.getBoundingClientRect();
  const width = Math.max(100, box.width - 12);
  const height = Math.max(40, box.height - legend.getBoundingClientRect().height - 8);
  const svg = el('svg:svg', {width, height});
  body.insertBefore(svg, legend);

  const all = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  let [lo, hi] = niceRange(defaults.min ?? Math.min(0, ...all), defaults.max ?? Math.max(...all));
  if (defaults.min !== undefined) lo = defaults.min;
  if (defaults.max !== undefined) hi = defaults.max;
  const left = 58, right = 6, top = 6, bottom = 16;
  const x = (t) => left + ((t - kStart) / (kEnd - kStart)) * (width - left - right);
  const y = (v) => top + (1 - (v - lo) / (hi - lo)) * (height - top - bottom);

  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    svg.appendChild(el('svg:line', {x1: left, x2: width - right, y1: y(v), y2: y(v),
      stroke: '#2a2d35'}));
    svg.appendChild(el('svg:text', {x: left - 4, y: y(v) + 3, fill: '#8e8ea0',
      'font-size': 10, 'text-anchor': 'end'}, formatValue(v, unit)));
  }
  for (let i = 0; i <= 4; i++) {
    const t = kStart + ((kEnd - kStart) * i) / 4;
    svg.appendChild(el('svg:text', {x: x(t), y: height - 3, fill: '#8e8ea0', 'font-size': 10,
      'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle'}, clock(t)));
  }
  const stepped = custom.lineInterpolation === 'stepAfter';
  series.forEach((s, i) => {
    let d = '';
    let previous = null;
    for (const [t, v] of s.points) {
      if (!Number.isFinite(v)) { previous = null; continue; }
      // A gap of more than two steps is a missing series (a stopped daemon), not a line.
      if (previous === null || t - previous[0] > 2 * kStep) {
        d += `M${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      } else if (stepped) {
        d += `H${x(t).toFixed(1)}V${y(v).toFixed(1)}`;
      } else {
        d += `L${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      }
      previous = [t, v];
    }
    svg.appendChild(el('svg:path', {d, fill: 'none', stroke: kColors[i % kColors.length],
      'stroke-width': custom.lineWidth || 1}));
  });
}

// One band per series, filled where its value is non-zero (Grafana's state timeline, for 0/1
// series such as ALERTS), with the series' name at the left.
function drawStateTimeline(body, series, panel) {
  const defaults = (panel.fieldConfig || {}).defaults || {};
  const named = {red: '#f2495c', green: '#73bf69', yellow: '#fade2a', orange: '#ff9830',
    blue: '#5794f2'};  // Grafana's names for its palette
  const fixed = (defaults.color || {}).fixedColor;
  const fill = named[fixed] || fixed || kColors[0];
  const box = body.getBoundingClientRect();
  const width = Math.max(100, box.width - 12);
  const height = Math.max(40, box.height - 8);
  const svg = el('svg:svg', {width, height});
  body.appendChild(svg);
  const left = 260, right = 6, top = 2, bottom = 16;
  const x = (t) => left + ((t - kStart) / (kEnd - kStart)) * (width - left - right);
  const band = (height - top - bottom) / Math.max(1, series.length);
  series.forEach((s, i) => {
    const y = top + i * band;
    svg.appendChild(el('svg:rect', {x: left, y: y + band * 0.1, width: width - left - right,
      height: band * 0.8, fill: '#22252b'}));
    svg.appendChild(el('svg:text', {x: left - 6, y: y + band / 2 + 3, fill: '#ccccdc',
      'font-size': 10, 'text-anchor': 'end'}, s.name));
    // Runs of consecutive non-zero points, each drawn as one rectangle.
    let runStart = null, previous = null;
    const close = () => {
      if (runStart === null) return;
      svg.appendChild(el('svg:rect', {x: x(runStart), y: y + band * 0.1,
        width: Math.max(1, x(previous + kStep) - x(runStart)), height: band * 0.8, fill}));
      runStart = null;
    };
    for (const [t, v] of s.points) {
      const on = Number.isFinite(v) && v !== 0;
      if (runStart !== null && (!on || t - previous > 2 * kStep)) close();
      if (on && runStart === null) runStart = t;
      previous = t;
    }
    close();
  });
  for (let i = 0; i <= 4; i++) {
    const t = kStart + ((kEnd - kStart) * i) / 4;
    svg.appendChild(el('svg:text', {x: x(t), y: height - 3, fill: '#8e8ea0', 'font-size': 10,
      'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle'}, clock(t)));
  }
}

function drawStat(body, series, panel) {
  const unit = ((panel.fieldConfig || {}).defaults || {}).unit;
  const stat = el('div', {class: 'stat'});
  for (const s of series) {
    const last = s.points.length ? s.points[s.points.length - 1][1] : NaN;
    const item = el('div', {}, formatValue(last, unit));
    item.appendChild(el('small', {}, s.name));
    stat.appendChild(item);
  }
  body.appendChild(stat);
}

function drawTable(body, rows) {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.metric)))]
    .filter((k) => k !== '__name__').sort();
  const table = el('table');
  const head = el('tr');
  for (const n of [...names, 'Value']) head.appendChild(el('th', {}, n));
  table.appendChild(head);
  for (const r of rows) {
    const tr = el('tr');
    for (const n of names) tr.appendChild(el('td', {}, r.metric[n] || ''));
    tr.appendChild(el('td', {}, r.value[1]));
    table.appendChild(tr);
  }
  body.appendChild(table);
}

async function renderPanel(panel, values, grid) {
  const g = panel.gridPos || {x: 0, y: 0, w: 12, h: 8};
  const place = `grid-column: ${g.x + 1} / span ${g.w}; grid-row: ${g.y + 1} / span ${g.h};`;
  if (panel.type === 'row') {
    grid.appendChild(el('div', {class: 'row', style: place}, panel.title));
    return null;
  }
  const node = el('div', {class: 'panel', style: place});
  node.appendChild(el('h2', {}, panel.title));
  const body = el('div', {class: 'body'});
  node.appendChild(body);
  grid.appendChild(node);
  try {
    if (!panel.targets || !panel.targets.length) throw new Error('no queries');
    if (panel.type === 'table') {
      const rows = [];
      for (const t of panel.targets) {
        const data = await api('query', {query: substitute(t.expr, values), time: kEnd});
        rows.push(...data.result);
      }
      if (rows.length) drawTable(body, rows);
      else body.appendChild(el('div', {class: 'empty'}, 'No data'));
      return {panel, series: rows.length};
    }
    const series = [];
    for (const t of panel.targets) {
      const data = await api('query_range',
        {query: substitute(t.expr, values), start: kStart, end: kEnd, step: kStep});
      for (const r of data.result) {
        series.push({name: legendOf(t.legendFormat, r.metric),
          points: r.values.map(([ts, v]) => [Number(ts), Number(v)])});
      }
    }
    if (!series.length) body.appendChild(el('div', {class: 'empty'}, 'No data'));
    else if (panel.type === 'stat') drawStat(body, series, panel);
    else if (panel.type === 'state-timeline') drawStateTimeline(body, series, panel);
    else drawTimeseries(body, series, panel);
    return {panel, series: series.length};
  } catch (e) {
    body.appendChild(el('div', {class: 'error'}, String(e.message || e)));
    return {panel, error: String(e.message || e)};
  }
}

async function main() {
  const summary = document.getElementById('summary');
  const info = document.getElementById('info');
  try {
    const response = await fetch(kDashboardUrl);
    const dashboard = await response.json();
    const values = await resolveVariables(dashboard);
    const shown = Object.entries(values).filter(([k]) => k !== 'datasource')
      .map(([k, v]) => `${k}=${v}`).join(', ');
    info.textContent = `"${dashboard.title}" (${kDashboardUrl}), ${shown}; ` +
      `${clock(kStart)}–${clock(kEnd)} UTC, step ${kStep} s, from Prometheus ` +
      `${kPrometheus || location.origin}. Grafana itself is not used: panels are drawn by ` +
      'preview.js as plain SVG.';
    const grid = document.getElementById('grid');
    const panels = [];
    for (const p of dashboard.panels || []) {
      panels.push(p);
      if (p.type === 'row') panels.push(...(p.panels || []));
    }
    const results = [];
    // One panel at a time: the page is small and Prometheus may be on a busy machine.
    for (const p of panels) {
      const r = await renderPanel(p, values, grid);
      if (r) results.push(r);
    }
    summary.textContent = results.map((r) => `panel ${r.panel.id} "${r.panel.title}": ` +
      (r.error ? `error ${r.error}` : `${r.series} series`)).join('\n');
  } catch (e) {
    info.textContent = `error: ${e.message || e}`;
    summary.textContent = `error ${e.message || e}`;
  }
  document.body.dataset.done = 'true';
}

main();
