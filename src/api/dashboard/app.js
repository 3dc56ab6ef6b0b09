// haldir's dashboard: polls /api/v1/cluster (this node and its peers) every second,
// follows /api/v1/events (server-sent events, read with fetch so a bearer token can
// be sent) and redraws on every event. Plain browser JavaScript, no dependencies.
// On TCP the token comes from the URL fragment (#token=…, never sent to the server)
// or the form; it is kept in sessionStorage for this tab only.
/* global document, window, sessionStorage, history, fetch, TextDecoder, setTimeout, setInterval, location, URLSearchParams */
'use strict';

const POLL_MS = 1000;
const SPARK_POINTS = 60;
const MAX_EVENTS = 200;

const state = {
  token: sessionStorage.getItem('haldir-token') || '',
  cluster: undefined,
  selected: undefined,
  /** `node service server` → recent check latencies (ms). */
  latency: new Map(),
  /** master address → node name, learnt from nodes that reported MASTER. */
  addressOf: new Map(),
  refreshTimer: undefined,
  polling: false,
};

// A token in the fragment (#token=…) is taken once and removed from the address bar.
(function takeToken() {
  const h = new URLSearchParams(location.hash.replace(/^#/, ''));
  const t = h.get('token');
  if (t) {
    state.token = t;
    sessionStorage.setItem('haldir-token', t);
    history.replaceState(null, '', location.pathname + location.search);
  }
})();

function headers() {
  return state.token ? { Authorization: 'Bearer ' + state.token } : {};
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof window.Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const badge = (text, cls, attrs) => el('span', Object.assign({ class: 'badge ' + (cls || text) }, attrs || {}), text);

function setConn(kind, text) {
  const c = document.getElementById('conn');
  c.className = 'badge ' + kind;
  c.dataset.conn = kind;
  c.textContent = text;
}

function needToken(message) {
  const f = document.getElementById('login');
  f.hidden = false;
  document.getElementById('login-error').textContent = message || '';
  setConn('lost', 'token needed');
}

document.getElementById('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  state.token = document.getElementById('token').value.trim();
  sessionStorage.setItem('haldir-token', state.token);
  document.getElementById('login').hidden = true;
  poll();
  followEvents();
});

// ---------------------------------------------------------------- cluster

async function poll() {
  if (state.polling) return;
  state.polling = true;
  try {
    const r = await fetch('/api/v1/cluster', { headers: headers(), cache: 'no-store' });
    if (r.status === 401) {
      needToken('the token was refused');
      return;
    }
    if (!r.ok) throw new Error('HTTP ' + r.status);
    state.cluster = await r.json();
    sample(state.cluster);
    setConn('live', 'live');
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    render();
  } catch (e) {
    setConn('lost', 'disconnected: ' + e.message);
  } finally {
    state.polling = false;
  }
}

/** Poll again soon (an event says something changed), at most once per 150 ms. */
function refreshSoon() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = undefined;
    poll();
  }, 150);
}

/** One latency sample per real server per poll, for the sparklines. */
function sample(c) {
  for (const n of c.nodes) {
    if (!n.ok) continue;
    for (const v of n.status.services) {
      for (const r of v.realServers) {
        const lat = r.checks.length ? r.checks[0].lastLatencyMs : undefined;
        if (lat === undefined) continue;
        const key = n.name + ' ' + v.name + ' ' + r.name;
        const series = state.latency.get(key) || [];
        series.push(lat);
        if (series.length > SPARK_POINTS) series.shift();
        state.latency.set(key, series);
      }
    }
  }
}

function render() {
  const c = state.cluster;
  if (!c) return;
  document.getElementById('node').textContent = 'node ' + c.node;
  if (!state.selected) state.selected = c.node;
  for (const n of c.nodes) {
    if (!n.ok) continue;
    for (const i of n.status.vrrp) if (i.state === 'MASTER' && i.masterAddress) state.addressOf.set(i.masterAddress, n.name);
  }
  renderMasters(c);
  renderCluster(c);
  renderPicker(c);
  renderServices(c);
}

function renderMasters(c) {
  const box = document.getElementById('masters');
  box.replaceChildren();
  const instances = new Map();
  for (const n of c.nodes) {
    if (!n.ok) continue;
    for (const i of n.status.vrrp) {
      const m = instances.get(i.name) || { masters: [], seen: new Set() };
      if (i.state === 'MASTER') m.masters.push(n.name);
      else if (i.masterAddress) m.seen.add(i.masterAddress);
      instances.set(i.name, m);
    }
  }
  for (const [name, m] of instances) {
    // The master is the node that says MASTER; failing that, who the backups hear adverts from.
    let who = m.masters.join(', ');
    if (!who && m.seen.size) who = [...m.seen].map((a) => state.addressOf.get(a) || a).join(', ');
    box.append(
      el(
        'span',
        { class: 'master', 'data-instance': name, 'data-master': who || '' },
        name + ' master: ',
        el('b', {}, who || 'none'),
        m.masters.length > 1 ? el('span', { class: 'error' }, ' (more than one MASTER)') : null,
      ),
    );
  }
  if (!instances.size) box.append(el('span', { class: 'muted' }, 'no VRRP instances'));
}

function renderCluster(c) {
  const tb = document.querySelector('#cluster tbody');
  tb.replaceChildren();
  for (const n of c.nodes) {
    if (!n.ok) {
      tb.append(el('tr', { 'data-node': n.name, 'data-state': 'unreachable' }, el('td', {}, n.name), el('td', {}, '—'), el('td', {}, badge('unreachable', 'unreachable', { 'data-field': 'state' })), el('td', { colSpan: 4, class: 'reason' }, n.error || ''), el('td', { class: 'muted' }, n.api)));
      continue;
    }
    const s = n.status;
    const rs = s.services.flatMap((v) => v.realServers);
    const up = rs.length ? rs.filter((r) => r.healthy).length + '/' + rs.length : '—';
    const insts = s.vrrp.length ? s.vrrp : [undefined];
    insts.forEach((i, k) => {
      tb.append(
        el(
          'tr',
          { 'data-node': n.name, 'data-instance': i ? i.name : '', 'data-state': i ? i.state : 'none' },
          el('td', {}, k === 0 ? n.name : ''),
          el('td', {}, i ? i.name : '—'),
          el('td', {}, i ? badge(i.state + (i.resigned ? ' (resigned)' : ''), i.state, { 'data-field': 'state' }) : '—'),
          el('td', {}, i ? i.effectivePriority + (i.effectivePriority !== i.basePriority ? ' (base ' + i.basePriority + ')' : '') : ''),
          el('td', {}, i && i.masterAddress ? i.masterAddress + (state.addressOf.get(i.masterAddress) ? ' (' + state.addressOf.get(i.masterAddress) + ')' : '') : '—'),
          // A MASTER hears no adverts (backups are silent): the age means something on a BACKUP.
          el('td', {}, i && i.state !== 'MASTER' && i.lastAdvertAgeMs !== undefined ? (i.lastAdvertAgeMs / 1000).toFixed(1) + ' s ago' : '—'),
          el('td', {}, k === 0 ? up : ''),
          el('td', { class: 'muted' }, k === 0 ? n.api : ''),
        ),
      );
    });
  }
}

function renderPicker(c) {
  const box = document.getElementById('node-picker');
  box.replaceChildren();
  const reachable = c.nodes.filter((n) => n.ok);
  if (reachable.length < 2) return;
  for (const n of reachable) {
    const b = el('button', { type: 'button', class: n.name === state.selected ? 'selected' : '' }, n.name);
    b.addEventListener('click', () => {
      state.selected = n.name;
      render();
    });
    box.append(b);
  }
}

function spark(values) {
  const w = 90;
  const h = 18;
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('width', w);
  svg.setAttribute('height', h);
  svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
  if (values.length > 1) {
    const max = Math.max(...values, 1);
    const pts = values.map((v, i) => (i * (w - 2)) / (SPARK_POINTS - 1) + 1 + ',' + (h - 1 - (v / max) * (h - 2)).toFixed(1));
    const pl = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    pl.setAttribute('points', pts.join(' '));
    svg.append(pl);
  }
  return svg;
}

function renderServices(c) {
  const node = c.nodes.find((n) => n.name === state.selected && n.ok) || c.nodes.find((n) => n.ok);
  const box = document.getElementById('services');
  box.replaceChildren();
  if (!node) return;
  document.getElementById('services-node').textContent = '(as ' + node.name + ' sees them)';
  for (const v of node.status.services) {
    const rows = v.realServers.map((r) => {
      const key = node.name + ' ' + v.name + ' ' + r.name;
      const lat = r.checks.length && r.checks[0].lastLatencyMs !== undefined ? r.checks[0].lastLatencyMs : undefined;
      const series = state.latency.get(key) || [];
      const reason = r.checks.map((ch) => ch.type + ': ' + (ch.lastReason || (ch.up ? 'up' : 'down'))).join('; ') || 'no checks';
      return el(
        'tr',
        { 'data-service': v.name, 'data-server': r.name, 'data-state': r.state },
        el('td', {}, r.name),
        el('td', {}, badge(r.state, r.state, { 'data-field': 'state' })),
        el('td', {}, String(r.weight) + (r.weightOverride !== undefined ? ' (set)' : r.weight !== r.configuredWeight ? ' (of ' + r.configuredWeight + ')' : '')),
        el('td', {}, r.activeConnections !== undefined ? String(r.activeConnections) : '—'),
        el('td', {}, r.connections !== undefined ? String(r.connections) : '—'),
        el('td', {}, lat !== undefined ? lat.toFixed(1) + ' ms ' : '— ', spark(series)),
        el('td', { class: 'reason' }, reason),
      );
    });
    box.append(
      el('h3', { 'data-service': v.name }, v.name + ' ', el('span', { class: 'muted' }, v.scheduler + ' ' + v.forwarding + (v.balancing ? ' · balancing here' : ' · not balancing here'))),
      el('table', { class: 'servers' }, el('thead', {}, el('tr', {}, ...['Real server', 'State', 'Weight', 'Active', 'Conns', 'Check latency', 'Last check'].map((t) => el('th', {}, t)))), el('tbody', {}, ...rows)),
    );
  }
  if (!node.status.services.length) box.append(el('p', { class: 'muted' }, 'this node balances no virtual service'));
}

// ---------------------------------------------------------------- events

function addEvent(e) {
  const list = document.getElementById('events');
  const t = new Date(e.time);
  const li = el('li', { 'data-type': e.type, 'data-id': String(e.id) }, el('time', { dateTime: e.time }, t.toLocaleTimeString()), el('span', { class: 'type' }, e.type), e.message, e.by ? el('span', { class: 'by' }, ' — by ' + e.by) : null);
  list.prepend(li);
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
}

/** The SSE stream through fetch (EventSource cannot send a bearer token); reconnects after a drop. */
async function followEvents() {
  let lastId = '';
  let backlog = 100;
  for (;;) {
    try {
      const r = await fetch('/api/v1/events?backlog=' + backlog, { headers: Object.assign({ Accept: 'text/event-stream' }, lastId ? { 'Last-Event-ID': lastId } : {}, headers()), cache: 'no-store' });
      if (r.status === 401) {
        needToken('the token was refused');
        return;
      }
      if (!r.ok || !r.body) throw new Error('HTTP ' + r.status);
      backlog = 1000;
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('data:')) data += line.slice(5).replace(/^ /, '');
            else if (line.startsWith('id:')) lastId = line.slice(3).trim();
          }
          if (!data) continue;
          try {
            addEvent(JSON.parse(data));
          } catch {
            continue;
          }
          refreshSoon();
        }
      }
    } catch {
      /* dropped: retry below */
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

poll();
setInterval(poll, POLL_MS);
followEvents();
