// The dashboard. Its own live socket is the library's browser client (`createKeepaliveClient` on the browser's
// WebSocket: reconnect with backoff, the page lifecycle, a queue for commands sent while disconnected), bundled by the
// demo's build (esbuild, --platform=browser, no shims) into dist/dashboard/app.js. It renders one row per worker, a
// timeline with one lane per worker (busy, idle, frozen; blank without a connection; reclaims, lost work, dead peers,
// reconnects, freezes and resumes marked), and sends control commands.
//
// The timeline is drawn from `snapshot.timeline` (each lane's stretches of state, and the marked moments), exactly as
// the server sent it; `window.keepaliveDashboard.timeline()` returns that model with the pixel geometry it was drawn
// at, for the browser test to check the canvas against.
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
let drawn = null;
/** The time range shown (seconds since the epoch), read by the chart's x scale. */
const shown = { start: 0, end: 1 };
/** The lane and time labels: page elements over the chart. */
const labelLayer = document.createElement('div');
labelLayer.className = 'timeline-labels';

const WINDOW_S = 60; // seconds of timeline shown, at most
const MIN_WINDOW_S = 20; // and at least (from the first state on, until there is a minute of it)
const LANE_PX = 40; // height of one lane
const BUSY = '#1f9d55'; // one colour for busy, as the legend says
const IDLE = '#8a93a6';
const FROZEN = '#2f5ccc';
const GLYPHS = {
  reclaimed: ['✕', '#d1242f'],
  'lost-work': ['!', '#d1242f'],
  'dead-peer': ['◆', '#111111'],
  reconnected: ['▲', '#1a7f37'],
  frozen: ['❚❚', FROZEN],
  resumed: ['▶', FROZEN],
};
/** The controls each state offers (a frozen worker can only be resumed; without a connection there is none to cut). */
const CONTROLS = {
  busy: ['long-tool', 'cut', 'freeze'],
  idle: ['long-tool', 'cut', 'freeze'],
  parked: ['long-tool', 'freeze'],
  reconnecting: ['long-tool', 'freeze'],
  frozen: ['resume'],
  dead: [],
};
const STATE_TEXT = { parked: 'parked (no connection)' };

function text(value) {
  return value === null || value === undefined ? '—' : String(value);
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function ago(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms ago` : `${(ms / 1000).toFixed(1)} s ago`;
}

function name(worker) {
  return worker.keepalive ? `worker ${worker.id}` : `worker ${worker.id} (no keep-alives)`;
}

/** The server's view of a worker: measured in the server's process, so it is true whatever the worker's process does. */
function serverView(view) {
  if (!view) return '—';
  if (view.connected) return `heard ${ago(view.lastHeardMsAgo)}`;
  const how = { dead_peer: 'dead peer: terminated', idle_timeout: 'reclaimed (4000)', other: 'closed' }[view.lastClose] ?? 'not connected';
  return view.lastHeardMsAgo === null ? how : `${how} · last heard ${ago(view.lastHeardMsAgo)}`;
}

/** The worker's own view of the server, as its process last reported it. */
function workerView(worker) {
  if (worker.state === 'frozen') return `not reporting (process stopped ${ago(worker.reportedMsAgo).replace(' ago', '')})`;
  if (!worker.connected) return 'no connection';
  return `heard ${ago(worker.lastProofOfLifeMsAgo)}`;
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
    <td class="name"></td><td class="state-cell"><span class="state"></span></td><td class="reasons"></td>
    <td class="num keepalives"></td><td class="server-view"></td><td class="worker-view"></td><td class="num reconnects"></td>
    <td class="num reclaimed"></td><td class="num lost"></td><td class="num dead-peers"></td>
    <td class="control-cell"><div class="controls">
      <button data-action="long-tool">start long tool_exec</button>
      <button data-action="cut">cut connection</button>
      <button data-action="freeze">freeze</button>
      <button data-action="resume">resume</button>
    </div></td>`;
  // At phone width each cell labels itself with its column's name.
  const heads = [...document.querySelectorAll('#workers thead th')];
  [...tr.children].forEach((td, i) => {
    const head = heads[i];
    if (head && head.dataset.col !== 'worker' && head.dataset.col !== 'controls') td.dataset.label = head.firstChild?.textContent ?? '';
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
      `Worker ${bare.id}, without keep-alives, does the same work as worker 1 on a plain socket: reclaimed ${plural(bare.reclaimed, 'time', 'times')}, ` +
      `${plural(bare.lostWork, 'piece', 'pieces')} of work lost in the middle.`;
  }
  const { server } = snapshot;
  statusLine.textContent = `live · ${plural(snapshot.workers.length, 'worker', 'workers')} · server tracking ${plural(server.tracked, 'connection', 'connections')} · reclaimed ${server.idleClosed} · dead peers ${server.deadPeers}`;
  for (const worker of snapshot.workers) {
    const tr = row(worker);
    tr.dataset.state = worker.state;
    tr.querySelector('.name').textContent = name(worker);
    const state = tr.querySelector('.state');
    state.textContent = STATE_TEXT[worker.state] ?? worker.state;
    state.className = `state state-${worker.state}`;
    const reasons = Object.entries(worker.reasons).map(([reason, count]) => `${reason} × ${count}`);
    tr.querySelector('.reasons').textContent = reasons.length ? reasons.join(', ') : '—';
    tr.querySelector('.keepalives').textContent = text(worker.keepalivesSent);
    const serverCell = tr.querySelector('.server-view');
    serverCell.textContent = serverView(worker.server);
    serverCell.dataset.heardMs = worker.server?.lastHeardMsAgo == null ? '' : String(Math.round(worker.server.lastHeardMsAgo));
    serverCell.dataset.connected = String(worker.server?.connected ?? false);
    const workerCell = tr.querySelector('.worker-view');
    workerCell.textContent = workerView(worker);
    workerCell.classList.toggle('stale', worker.state === 'frozen');
    tr.querySelector('.reconnects').textContent = text(worker.reconnects);
    tr.querySelector('.reclaimed').textContent = text(worker.reclaimed);
    tr.querySelector('.lost').textContent = text(worker.lostWork);
    tr.querySelector('.dead-peers').textContent = text(worker.deadPeers);
    const offered = CONTROLS[worker.state] ?? [];
    for (const button of tr.querySelectorAll('button')) button.hidden = !offered.includes(button.dataset.action);
  }
  for (const line of snapshot.events) {
    const li = document.createElement('li');
    li.textContent = line;
    eventsList.prepend(li);
  }
  while (eventsList.children.length > 200) eventsList.lastChild.remove();
  plot(snapshot);
}

// The timeline: uPlot keeps the canvas and the time scale; the lanes, marks and labels are drawn from the model.

/** Lane `i`'s vertical middle, in CSS pixels from the top of the plotting area. */
function laneMid(i) {
  return i * LANE_PX + LANE_PX / 2;
}

function drawLanes(u) {
  const snapshot = latest;
  if (!snapshot?.timeline) return;
  const { ctx } = u;
  const dpr = window.devicePixelRatio || 1;
  const left = u.bbox.left;
  const top = u.bbox.top;
  const [min, max] = [u.scales.x.min ?? 0, u.scales.x.max ?? 0];
  const x = (t) => u.valToPos(Math.min(max, Math.max(min, t)), 'x', true);
  const model = { now: snapshot.now, start: min, end: max, dpr, plot: { left: left / dpr, top: top / dpr, width: u.bbox.width / dpr, height: u.bbox.height / dpr }, lanes: [] };
  ctx.save();
  // Lane separators, on the lane boundaries only (nothing is drawn across a lane's middle but its state).
  ctx.strokeStyle = '#eef0f4';
  ctx.lineWidth = dpr;
  snapshot.timeline.lanes.forEach((_, i) => {
    const y = Math.round(top + (i + 1) * LANE_PX * dpr) - 0.5;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + u.bbox.width, y);
    ctx.stroke();
  });
  snapshot.timeline.lanes.forEach((lane, i) => {
    const mid = top + laneMid(i) * dpr;
    const drawnSegments = [];
    for (const segment of lane.segments) {
      const to = segment.to ?? snapshot.now;
      if (to < min || segment.from > max) continue;
      // Whole pixels: two stretches that meet leave no seam.
      const x0 = Math.round(x(segment.from));
      const x1 = Math.round(x(to));
      drawnSegments.push({ state: segment.state, from: segment.from, to: segment.to, x0: x0 / dpr, x1: x1 / dpr });
      if (x1 - x0 < 0.5) continue;
      if (segment.state === 'busy') {
        ctx.fillStyle = BUSY;
        ctx.fillRect(x0, mid - 4 * dpr, x1 - x0, 8 * dpr);
      } else if (segment.state === 'idle') {
        ctx.fillStyle = IDLE;
        ctx.fillRect(x0, mid - 1 * dpr, x1 - x0, 2 * dpr);
      } else if (segment.state === 'frozen') {
        ctx.fillStyle = FROZEN;
        for (let dash = x0; dash < x1; dash += 7 * dpr) ctx.fillRect(dash, mid - 4 * dpr, Math.min(4 * dpr, x1 - dash), 8 * dpr);
      }
      // parked, reconnecting, dead: no connection, nothing drawn (a blank, as the legend says).
    }
    model.lanes.push({ worker: lane.worker, keepalive: lane.keepalive, mid: laneMid(i) + top / dpr, segments: drawnSegments });
  });
  // The marked moments, above the lane's middle; marks of one worker within a glyph's width stack upwards.
  ctx.font = `bold ${Math.round(12 * dpr)}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  const stacked = new Map();
  for (const mark of snapshot.timeline.marks) {
    if (mark.t < min || mark.t > max) continue;
    const i = snapshot.timeline.lanes.findIndex((lane) => lane.worker === mark.worker);
    const glyph = GLYPHS[mark.kind];
    if (i < 0 || !glyph) continue;
    const gx = x(mark.t);
    const key = `${i}:${Math.round(gx / (14 * dpr))}`;
    const level = stacked.get(key) ?? 0;
    stacked.set(key, level + 1);
    ctx.fillStyle = glyph[1];
    ctx.fillText(glyph[0], gx, top + (laneMid(i) - 12 - level * 12) * dpr);
  }
  ctx.restore();
  drawn = model;
  placeLabels(u, snapshot);
}

/** A tick step (seconds) that leaves at least `minPx` between labels. */
function tickStep(pxPerSecond, minPx) {
  for (const step of [5, 10, 15, 20, 30, 45, 60]) if (step * pxPerSecond >= minPx) return step;
  return 60;
}

function clock(t) {
  const d = new Date(t * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** The lane labels (left) and time labels (below) as page elements, placed where the canvas drew their lanes and ticks. */
function placeLabels(u, snapshot) {
  const dpr = window.devicePixelRatio || 1;
  const layer = labelLayer;
  const plotLeft = u.bbox.left / dpr;
  const plotTop = u.bbox.top / dpr;
  const plotWidth = u.bbox.width / dpr;
  const plotBottom = plotTop + u.bbox.height / dpr;
  const laneLabels = snapshot.timeline.lanes.map((lane, i) => {
    const label = document.createElement('div');
    label.className = 'lane-label';
    label.dataset.worker = String(lane.worker);
    label.style.top = `${plotTop + laneMid(i)}px`;
    // Its right edge 6 px left of the drawing area; as wide as its text.
    label.style.right = `${chartBox.clientWidth - plotLeft + 6}px`;
    label.innerHTML = lane.keepalive ? `worker ${lane.worker}` : `worker ${lane.worker}<small>no keep-alives</small>`;
    return label;
  });
  const [min, max] = [u.scales.x.min ?? 0, u.scales.x.max ?? 0];
  const pxPerSecond = plotWidth / Math.max(1, max - min);
  // A label ("12:34:56") is about 55 px wide: 64 px between ticks leaves a gap.
  const step = tickStep(pxPerSecond, 64);
  const timeLabels = [];
  for (let t = Math.ceil(min / step) * step; t <= max; t += step) {
    const px = u.valToPos(t, 'x', false);
    // A label is centred on its tick, so it needs half its width (about 28 px) inside the plot.
    if (px < 28 || px > plotWidth - 28) continue;
    const label = document.createElement('div');
    label.className = 'time-label';
    label.style.left = `${plotLeft + px}px`;
    label.style.top = `${plotBottom + 4}px`;
    label.textContent = clock(t);
    timeLabels.push(label);
  }
  layer.replaceChildren(...laneLabels, ...timeLabels);
}

function size(count) {
  const width = Math.max(240, chartBox.clientWidth);
  const left = width < 500 ? 84 : 110;
  return { width, height: 8 + count * LANE_PX + 26, padding: [8, 10, 26, left] };
}

function plot(snapshot) {
  if (!snapshot.timeline) return;
  const count = snapshot.timeline.lanes.length;
  const { width, height, padding } = size(count);
  const end = snapshot.now;
  const first = Math.min(...snapshot.timeline.lanes.map((lane) => lane.segments[0]?.from ?? end));
  const start = Math.max(end - WINDOW_S, Math.min(first - 1, end - MIN_WINDOW_S));
  shown.start = start;
  shown.end = end;
  if (!chart || chart.count !== count || chart.left !== padding[3]) {
    chartBox.replaceChildren(labelLayer);
    const range = () => [shown.start, shown.end];
    chart?.u.destroy();
    const u = new uPlot(
      {
        width,
        height,
        padding,
        scales: { x: { time: false, range } },
        series: [{ label: 'time' }],
        legend: { show: false },
        cursor: { show: false },
        axes: [{ show: false }, { show: false }],
        hooks: { draw: [drawLanes] },
      },
      [[start, end]],
      chartBox,
    );
    chart = { count, u, width, left: padding[3] };
  } else if (chart.width !== width) {
    chart.u.setSize({ width, height });
    chart.width = width;
  }
  chart.u.setData([[start, end]]);
}

window.addEventListener('resize', () => latest && plot(latest));

/** For the browser test: the timeline model as last drawn, with its pixel geometry (CSS pixels within the canvas). */
window.keepaliveDashboard = {
  timeline: () => drawn,
  canvas: () => chartBox.querySelector('canvas'),
};

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
