// shadowplane's status page: polls the admin's JSON endpoints and draws the config, every proxy's
// sync state and every mirror policy's traffic. Everything shown is set as text (never as HTML): a
// route name or a NACK message is data, not markup.
'use strict';

const POLL_MS = 2000;
const TYPES = ['CDS', 'EDS', 'LDS', 'RDS', 'RTDS'];
const TOKEN_KEY = 'shadowplane.readToken';

let chart;
let chartKeys = '';

/** An element with attributes and children; strings become text nodes. */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k === 'title') e.title = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return e;
}

function text(id, value) {
  document.getElementById(id).textContent = value;
}

function ago(iso) {
  if (!iso) return '–';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

function sum(record) {
  return Object.values(record || {}).reduce((a, b) => a + b, 0);
}

function breakdown(record) {
  const entries = Object.entries(record || {}).filter(([, n]) => n > 0);
  return entries.length === 0 ? '' : entries.map(([k, n]) => `${k} ${n}`).join(', ');
}

/** GET an admin endpoint as JSON; null when it answers 404 (not served here). Asks for the token on 401/403. */
async function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const res = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {}, cache: 'no-store' });
  if (res.status === 401 || res.status === 403) {
    document.getElementById('auth').hidden = false;
    throw new Error(token ? 'the token was refused' : 'this admin endpoint needs a read token');
  }
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

function renderConfig(status) {
  const source = status.source;
  const store = source && source.store;
  const storeNote = store ? (store.state === 'up' ? ' (store up)' : ` (store down since ${store.since}${store.error ? `: ${store.error}` : ''}; the last good config keeps being served, writes fail)`) : '';
  text('config-source', `${(source && source.location) || status.configFile || '–'}${storeNote}`);
  const sourceEl = document.getElementById('config-source');
  sourceEl.dataset.store = store ? store.state : '';
  sourceEl.className = store && store.state === 'down' ? 'store-down' : '';
  text('config-version', String(status.configVersion ?? '–'));
  const accepted = status.lastAccepted;
  text('config-applied', accepted ? `${accepted.at} (${ago(accepted.at)}, ${accepted.reason})` : '–');
  const rejected = status.lastRejected;
  const box = document.getElementById('rejected');
  // Shown while it is the latest word on the config; a later accepted edit (or undoing it) clears it.
  const current = rejected && status.rejectedSinceAccepted;
  box.hidden = !current;
  if (!current) return;
  text('rejected-at', `${rejected.at} (${ago(rejected.at)}, ${rejected.reason ?? ''})`);
  text('rejected-note', `Nothing of it was applied; version ${status.configVersion} keeps being served.`);
  document.getElementById('rejected-problems').replaceChildren(...rejected.problems.map((p) => el('li', {}, p)));
}

/** Envoy's version, or another user agent with its version (the built-in data plane: `shadowplane 0.1.0`). */
function agentOf(p) {
  if (p.envoyVersion) return p.envoyVersion;
  if (p.userAgent && p.userAgentVersion) return `${p.userAgent} ${p.userAgentVersion}`;
  return '–';
}

function renderProxies(status) {
  const notes = [];
  const rows = status.proxies.map((p) => {
    const cells = TYPES.map((t) => {
      const ts = p.types[t];
      const state = ts ? ts.state : '–';
      const why = ts && (ts.reason || ts.waitingFor);
      // One note per type that is not SYNCED; a NACK's says when, and its reason is the NACK message.
      if (ts && ts.lastNack && state === 'NACKED') notes.push(`${p.nodeId} ${t} NACKED at ${ts.lastNack.at}: ${ts.lastNack.message}`);
      else if (why && state !== 'SYNCED') notes.push(`${p.nodeId} ${t} ${state}: ${why}`);
      return el('td', { class: `state ${state.toLowerCase().replace(/\s+/g, '-')}`, 'data-type': t, 'data-state': state, title: ts && ts.lastNack ? ts.lastNack.message : why || undefined }, state);
    });
    const lastAck = Object.values(p.types)
      .map((t) => t.ackedAt)
      .filter(Boolean)
      .sort()
      .at(-1);
    for (const w of p.warnings || []) notes.push(`${p.nodeId} warning: ${w}`);
    return el(
      'tr',
      { 'data-node': p.nodeId },
      el('td', {}, p.nodeId),
      el('td', {}, p.nodeCluster || '–'),
      el('td', { class: 'agent' }, agentOf(p)),
      el('td', {}, (p.protocol || '–').toUpperCase()),
      el('td', { class: 'version', title: 'the config version it has acknowledged' }, p.ackedConfigVersion === null || p.ackedConfigVersion === undefined ? '–' : String(p.ackedConfigVersion)),
      ...cells,
      el('td', { class: 'muted' }, ago(lastAck)),
    );
  });
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 11, class: 'muted' }, 'No proxy is connected.')));
  document.querySelector('#proxy-table tbody').replaceChildren(...rows);
  text('proxy-count', `(${status.proxies.length})`);
  document.getElementById('proxy-notes').replaceChildren(...notes.map((n) => el('li', {}, n)));
}

function policyKey(p) {
  return [p.routeConfig, p.virtualHost, p.route, p.mirror].join('\u0000');
}

function renderMirrors(stats) {
  const rows = stats.policies.map((p) => {
    const c = p.counters;
    const n = (v) => (c ? String(v) : '–');
    return el(
      'tr',
      { 'data-key': `${p.routeConfig}/${p.virtualHost}/${p.route}/${p.mirror}` },
      el('td', {}, `${p.routeConfig} / ${p.virtualHost} / ${p.route}`),
      el('td', {}, p.mirror),
      el('td', {}, p.clusters.join(', ') || '–'),
      el('td', { class: 'percent' }, p.percent === null ? '–' : `${p.percent}%`),
      el('td', { class: 'eligible' }, n(c && c.eligible)),
      el('td', { class: 'sampled' }, n(c && c.sampled)),
      el('td', { class: 'sent' }, n(c && c.sent)),
      el('td', { class: 'dropped', title: c ? breakdown(c.dropped) : undefined }, c ? `${sum(c.dropped)}${breakdown(c.dropped) ? ` (${breakdown(c.dropped)})` : ''}` : '–'),
      el('td', { class: 'responses' }, c ? breakdown(c.responses) || '0' : '–'),
      el('td', { class: 'failures' }, c ? `${c.timeouts} / ${c.errors}` : '–'),
    );
  });
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 10, class: 'muted' }, 'The config has no mirror policy.')));
  document.querySelector('#mirror-table tbody').replaceChildren(...rows);
  const counted = stats.policies.some((p) => p.counters);
  text('mirror-note', counted ? '' : 'Counters come from the built-in data plane (serve --data-plane builtin); Envoy keeps its own in its admin stats.');
  renderChart(stats);
}

/** What the chart can plot, per policy and per second: a counter of the samples' totals. */
const CHART_METRICS = {
  eligible: { label: 'eligible requests / s', of: (t) => t.eligible },
  sampled: { label: 'sampled / s', of: (t) => t.sampled },
  sent: { label: 'copies sent / s', of: (t) => t.sent },
  dropped: { label: 'copies dropped / s', of: (t) => t.dropped },
  '2xx': { label: 'mirror 2xx / s', of: (t) => (t.responses && t.responses['2xx']) || 0 },
  '4xx': { label: 'mirror 4xx / s', of: (t) => (t.responses && t.responses['4xx']) || 0 },
  '5xx': { label: 'mirror 5xx / s', of: (t) => (t.responses && t.responses['5xx']) || 0 },
  failed: { label: 'timeouts and errors / s', of: (t) => t.failed || 0 },
};
let lastStats = null;

function chartMetric() {
  const v = document.getElementById('chart-metric').value;
  return CHART_METRICS[v] ? v : 'sent';
}

/** The chosen counter per second per policy over the sampled history. */
function renderChart(stats) {
  lastStats = stats;
  const box = document.getElementById('chart');
  const metric = chartMetric();
  box.dataset.metric = metric;
  if (typeof uPlot === 'undefined' || stats.history.length < 2) {
    box.dataset.points = '0';
    return;
  }
  const { label, of } = CHART_METRICS[metric];
  const keys = stats.policies.filter((p) => p.counters).map(policyKey);
  const labels = new Map(stats.policies.map((p) => [policyKey(p), `${p.route} → ${p.mirror}`]));
  const h = stats.history;
  const xs = h.slice(1).map((s) => s.at / 1000);
  const series = keys.map((k) =>
    h.slice(1).map((s, i) => {
      const a = h[i].totals[k];
      const b = s.totals[k];
      if (!a || !b) return null;
      return Math.max(0, (of(b) - of(a)) / ((s.at - h[i].at) / 1000));
    }),
  );
  const data = [xs, ...series];
  box.dataset.points = String(xs.length);
  box.dataset.total = String(series.reduce((acc, s) => acc + s.reduce((x, v) => x + (v || 0), 0), 0));
  box.setAttribute('aria-label', `${label}, last minutes`);
  const shape = `${metric}|${keys.join('|')}`;
  if (!chart || shape !== chartKeys) {
    chart?.destroy();
    chartKeys = shape;
    const palette = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04'];
    chart = new uPlot(
      {
        width: Math.min(960, box.clientWidth || 960),
        height: 220,
        scales: { x: { time: true } },
        axes: [{}, { label }],
        series: [{}, ...keys.map((k, i) => ({ label: labels.get(k) || k, stroke: palette[i % palette.length], width: 2 }))],
      },
      data,
      box,
    );
  } else {
    chart.setData(data);
  }
}

document.getElementById('chart-metric').addEventListener('change', () => {
  if (lastStats) renderChart(lastStats);
});

function renderCompare(diffs) {
  const section = document.getElementById('compare');
  section.hidden = diffs === null;
  if (diffs === null) return;
  text('compare-match', String(diffs.match));
  text('compare-mismatch', String(diffs.mismatch));
  text('compare-incomplete', String(diffs.incomplete));
  const rows = diffs.recent.slice(0, 20).flatMap((d) =>
    d.differences.map((f) =>
      el('tr', {}, el('td', { class: 'muted' }, ago(d.at)), el('td', {}, `${d.route.route_config} / ${d.route.virtual_host} / ${d.route.route}`), el('td', {}, `${d.mirror} (${d.cluster})`), el('td', {}, f.field), el('td', {}, f.primary), el('td', {}, f.mirror)),
    ),
  );
  document.querySelector('#diff-table tbody').replaceChildren(...rows);
}

async function refresh() {
  try {
    const [status, stats] = await Promise.all([api('/status'), api('/mirror_stats')]);
    // Comparisons are the built-in data plane's: without one in the control plane there are none to ask for.
    const diffs = status.proxies.some((p) => p.protocol === 'builtin') ? await api('/mirror_diffs') : null;
    document.getElementById('auth').hidden = true;
    document.getElementById('error').hidden = true;
    renderConfig(status);
    renderProxies(status);
    renderMirrors(stats);
    renderCompare(diffs);
    text('updated', `updated ${new Date().toLocaleTimeString()}`);
    document.body.dataset.ready = 'true';
  } catch (e) {
    const box = document.getElementById('error');
    box.hidden = false;
    box.textContent = `Cannot read the admin endpoint: ${e.message}`;
  }
}

document.getElementById('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const value = document.getElementById('token').value.trim();
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
  void refresh();
});

void refresh();
setInterval(refresh, POLL_MS);
