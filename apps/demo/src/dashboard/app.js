// The dashboard. Its own live socket is the library's browser client (`createKeepaliveClient` on the browser's
// WebSocket: reconnect with backoff, the page lifecycle, a queue for commands sent while disconnected), bundled by the
// demo's build (esbuild, --platform=browser, no shims) into dist/dashboard/app.js. It renders one row per worker, a
// timeline with one lane per worker (busy, idle, frozen, no connection; reclaims, lost work, dead peers and
// reconnects marked), and sends control commands.
import { createKeepaliveClient } from '@keepalive/websocket-transport';
import uPlot from 'uplot';
import { renderFleet } from './fleet.js';

const token = new URLSearchParams(location.search).get('token') ?? '';
const rows = new Map();
const tbody = document.querySelector('#workers tbody');
const statusLine = document.querySelector('#status');
const eventsList = document.querySelector('#events');
const chartBox = document.querySelector('#chart-timeline');
let client = null;
let chart = null;
let latest = null;
const WINDOW = 120; // samples kept in the chart (60 s)
const LANE_HEIGHT = 4; // y units per worker lane
const GLYPHS = {
  reclaimed: ['✕', '#d1242f'],
  'lost-work': ['!', '#d1242f'],
  'dead-peer': ['◆', '#111111'],
  reconnected: ['▲', '#1a7f37'],
  frozen: ['❚❚', '#2f5ccc'],
  resumed: ['▶', '#2f5ccc'],
};
const LABELS = ['worker', 'state', 'in flight', 'keep-alives sent', 'last proof of life', 'reconnects', 'reclaimed', 'lost work', 'dead peers'];

function text(value) {
  return value === null || value === undefined ? '—' : String(value);
}

function ago(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms ago` : `${(ms / 1000).toFixed(1)} s ago`;
}

function name(worker) {
  return worker.keepalive ? `worker ${worker.id}` : `worker ${worker.id} (no keep-alives)`;
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
  if (!worker.keepalive) tr.classList.add('bare');
  tr.innerHTML = `
    <td class="name"></td><td><span class="state"></span></td><td class="reasons"></td>
    <td class="num keepalives"></td><td class="proof"></td><td class="num reconnects"></td><td class="num reclaimed"></td>
    <td class="num lost"></td><td class="num dead-peers"></td>
    <td class="control-cell"><div class="controls">
      <button data-action="long-tool">start long tool_exec</button>
      <button data-action="cut">cut connection</button>
      <button data-action="freeze">freeze</button>
      <button data-action="resume">resume</button>
    </div></td>`;
  [...tr.children].forEach((td, i) => {
    if (LABELS[i]) td.dataset.label = LABELS[i];
  });
  for (const button of tr.querySelectorAll('button')) {
    button.addEventListener('click', () => send(button.dataset.action, worker.id));
  }
  tbody.append(tr);
  rows.set(worker.id, tr);
  return tr;
}

function render(snapshot) {
  latest = snapshot;
  document.querySelector('#idle-limit').textContent = `${snapshot.idleLimitMs / 1000} s`;
  const bare = snapshot.workers.find((w) => !w.keepalive);
  if (bare) {
    document.querySelector('#bare-story').textContent =
      `${name(bare)} does the same work as worker 1 on a plain socket: reclaimed ${bare.reclaimed} times, ` +
      `${bare.lostWork} pieces of work lost in the middle.`;
  }
  const { server } = snapshot;
  statusLine.textContent = `live · ${snapshot.workers.length} workers · server tracking ${server.tracked} connections · reclaimed ${server.idleClosed} · dead peers ${server.deadPeers}`;
  for (const worker of snapshot.workers) {
    const tr = row(worker);
    tr.querySelector('.name').textContent = name(worker);
    const state = tr.querySelector('.state');
    state.textContent = worker.state;
    state.className = `state state-${worker.state}`;
    const reasons = Object.entries(worker.reasons).map(([reason, count]) => `${reason} × ${count}`);
    tr.querySelector('.reasons').textContent = reasons.length ? reasons.join(', ') : '—';
    tr.querySelector('.keepalives').textContent = text(worker.keepalivesSent);
    tr.querySelector('.proof').textContent = ago(worker.lastProofOfLifeMsAgo);
    tr.querySelector('.reconnects').textContent = text(worker.reconnects);
    tr.querySelector('.reclaimed').textContent = text(worker.reclaimed);
    tr.querySelector('.lost').textContent = text(worker.lostWork);
    tr.querySelector('.dead-peers').textContent = text(worker.deadPeers);
  }
  for (const line of snapshot.events) {
    const li = document.createElement('li');
    li.textContent = line;
    eventsList.prepend(li);
  }
  while (eventsList.children.length > 200) eventsList.lastChild.remove();
  plot(snapshot);
}

/** The lane of worker `i` (0 = top): its baseline in y units. */
function base(i, count) {
  return (count - 1 - i) * LANE_HEIGHT;
}

// Busy bars: one colour per worker, none of them the frozen blue or the lost-work red.
const PALETTE = ['#1f9d55', '#8e44ad', '#d97706', '#0f766e', '#be185d', '#4d7c0f', '#92400e', '#6b21a8'];

function lanes(workers) {
  const series = [{ label: 'time' }];
  workers.forEach((worker, i) => {
    const color = worker.keepalive ? PALETTE[i % PALETTE.length] : '#d1242f';
    series.push(
      { label: `${name(worker)} busy`, stroke: color, width: 8, spanGaps: false, points: { show: false } },
      { label: `${name(worker)} idle`, stroke: '#8a93a6', width: 2, spanGaps: false, points: { show: false } },
      { label: `${name(worker)} frozen`, stroke: '#2f5ccc', width: 8, dash: [4, 3], spanGaps: false, points: { show: false } },
    );
  });
  return series;
}

/** Draws the marked moments on each worker's lane. */
function drawMarks(u) {
  const snapshot = latest;
  if (!snapshot) return;
  const { ctx } = u;
  const count = snapshot.workers.length;
  const [min, max] = [u.scales.x.min ?? 0, u.scales.x.max ?? 0];
  ctx.save();
  ctx.font = `bold ${Math.round(13 * window.devicePixelRatio)}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  // Marks of the same worker within one glyph's width are stacked upwards, so none hides another.
  const stacked = new Map();
  for (const mark of snapshot.history.marks) {
    if (mark.t < min || mark.t > max) continue;
    const i = snapshot.workers.findIndex((w) => w.id === mark.worker);
    const glyph = GLYPHS[mark.kind];
    if (i < 0 || !glyph) continue;
    const x = u.valToPos(mark.t, 'x', true);
    const key = `${i}:${Math.round(x / (14 * window.devicePixelRatio))}`;
    const level = stacked.get(key) ?? 0;
    stacked.set(key, level + 1);
    const y = u.valToPos(base(i, count) + 2.7, 'y', true) - level * 13 * window.devicePixelRatio;
    ctx.fillStyle = glyph[1];
    ctx.fillText(glyph[0], x, y);
  }
  ctx.restore();
}

function plot(snapshot) {
  const history = snapshot.history;
  if (!history || history.t.length === 0) return;
  const width = Math.max(240, chartBox.clientWidth);
  const count = snapshot.workers.length;
  if (!chart || chart.count !== count) {
    chartBox.replaceChildren();
    const splits = snapshot.workers.map((_, i) => base(i, count) + 1.2);
    const u = new uPlot(
      {
        width,
        height: 60 + count * 46,
        scales: { x: { time: true }, y: { range: [-0.5, count * LANE_HEIGHT - 0.2] } },
        series: lanes(snapshot.workers),
        legend: { show: false },
        cursor: { show: false },
        axes: [
          { stroke: '#556' },
          {
            stroke: '#556',
            size: 92,
            splits: () => splits,
            values: () => snapshot.workers.map((w) => (w.keepalive ? `worker ${w.id}` : `${w.id}: no k-a`)),
            grid: { stroke: '#eef0f4' },
          },
        ],
        hooks: { draw: [drawMarks] },
      },
      [[]],
      chartBox,
    );
    chart = { count, u, width };
  } else if (chart.width !== width) {
    chart.u.setSize({ width, height: 60 + count * 46 });
    chart.width = width;
  }
  const t = history.t.slice(-WINDOW);
  const data = [t];
  history.lanes.forEach((lane, i) => {
    const states = lane.slice(-WINDOW);
    const y = base(i, count);
    // busy a thick bar above the lane's baseline, idle a thin line on it, frozen a dashed bar; no connection a gap.
    data.push(
      states.map((s) => (s === 2 ? y + 1.6 : null)),
      states.map((s) => (s === 1 ? y + 0.8 : null)),
      states.map((s) => (s === 3 ? y + 1.6 : null)),
    );
  });
  chart.u.setData(data);
}

window.addEventListener('resize', () => latest && plot(latest));

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
