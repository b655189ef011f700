// The dashboard. Its own live socket is the library's browser client (`createKeepaliveClient` on the browser's
// WebSocket: reconnect with backoff, the page lifecycle, a queue for commands sent while disconnected), bundled by the
// demo's build (esbuild, --platform=browser, no shims) into dist/dashboard/app.js. It renders one row per worker and
// two uPlot timelines, and sends control commands.
import { createKeepaliveClient } from '@keepalive/websocket-transport';
import uPlot from 'uplot';
import { renderFleet } from './fleet.js';

const token = new URLSearchParams(location.search).get('token') ?? '';
const rows = new Map();
const tbody = document.querySelector('#workers tbody');
const statusLine = document.querySelector('#status');
const eventsList = document.querySelector('#events');
let client = null;
let charts = null;
const WINDOW = 120; // samples kept in the charts

function text(value) {
  return value === null || value === undefined ? '—' : String(value);
}

function ago(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms ago` : `${(ms / 1000).toFixed(1)} s ago`;
}

function send(action, worker) {
  // Sent now, or queued while the socket reconnects (the client hands back what it could not send when closed).
  client?.send(JSON.stringify({ action, worker }));
}

function row(worker) {
  let tr = rows.get(worker.id);
  if (tr) return tr;
  tr = document.createElement('tr');
  tr.dataset.worker = String(worker.id);
  tr.innerHTML = `
    <td class="name"></td><td><span class="state"></span></td><td class="reasons"></td>
    <td class="num keepalives"></td><td class="proof"></td><td class="num reconnects"></td><td class="num reclaimed"></td>
    <td class="controls">
      <button data-action="long-tool">start long tool_exec</button>
      <button data-action="cut">cut connection</button>
      <button data-action="freeze">freeze</button>
      <button data-action="resume">resume</button>
    </td>`;
  for (const button of tr.querySelectorAll('button')) {
    button.addEventListener('click', () => send(button.dataset.action, worker.id));
  }
  tbody.append(tr);
  rows.set(worker.id, tr);
  return tr;
}

function render(snapshot) {
  document.querySelector('#idle-limit').textContent = `${snapshot.idleLimitMs / 1000} s`;
  statusLine.textContent = `live · ${snapshot.workers.length} workers · server tracking ${snapshot.server.tracked} connections · reclaimed ${snapshot.server.idleClosed} · dead peers ${snapshot.server.deadPeers}`;
  for (const worker of snapshot.workers) {
    const tr = row(worker);
    tr.querySelector('.name').textContent = `worker ${worker.id}`;
    const state = tr.querySelector('.state');
    state.textContent = worker.state;
    state.className = `state state-${worker.state}`;
    const reasons = Object.entries(worker.reasons).map(([reason, count]) => `${reason} × ${count}`);
    tr.querySelector('.reasons').textContent = reasons.length ? reasons.join(', ') : '—';
    tr.querySelector('.keepalives').textContent = text(worker.keepalivesSent);
    tr.querySelector('.proof').textContent = ago(worker.lastProofOfLifeMsAgo);
    tr.querySelector('.reconnects').textContent = text(worker.reconnects);
    tr.querySelector('.reclaimed').textContent = text(worker.reclaimed);
  }
  for (const line of snapshot.events) {
    const li = document.createElement('li');
    li.textContent = line;
    eventsList.prepend(li);
  }
  while (eventsList.children.length > 200) eventsList.lastChild.remove();
  plot(snapshot);
}

function series(label, index) {
  const hue = (index * 67) % 360;
  return { label, stroke: `hsl(${hue} 70% 45%)`, width: 2 };
}

function plot(snapshot) {
  const history = snapshot.history;
  if (!history || history.t.length === 0) return;
  const width = Math.min(1150, document.body.clientWidth - 40);
  if (!charts || charts.count !== snapshot.workers.length) {
    for (const el of ['#chart-keepalives', '#chart-activity']) document.querySelector(el).replaceChildren();
    const labels = snapshot.workers.map((w) => `worker ${w.id}`);
    const make = (el, title) =>
      new uPlot(
        { width, height: 180, scales: { x: { time: true } }, series: [{ label: 'time' }, ...labels.map(series)], legend: { show: true }, title },
        [[]],
        document.querySelector(el),
      );
    charts = { count: snapshot.workers.length, keepalives: make('#chart-keepalives', ''), activity: make('#chart-activity', '') };
  }
  const t = history.t.slice(-WINDOW);
  charts.keepalives.setData([t, ...history.keepalives.map((s) => s.slice(-WINDOW))]);
  charts.activity.setData([t, ...history.activity.map((s) => s.slice(-WINDOW))]);
}

function connect() {
  client = createKeepaliveClient(`ws://${location.host}/dashboard?token=${encodeURIComponent(token)}`, {
    reconnect: { initialDelayMs: 250, maxDelayMs: 2_000 },
  });
  client.on('open', () => (statusLine.textContent = 'live'));
  client.on('message', ({ data }) => {
    if (typeof data !== 'string') return;
    const snapshot = JSON.parse(data);
    render(snapshot);
    renderFleet(snapshot);
  });
  client.on('close', ({ willReconnect }) => {
    statusLine.textContent = willReconnect ? 'disconnected: reconnecting…' : 'disconnected';
  });
}

connect();
