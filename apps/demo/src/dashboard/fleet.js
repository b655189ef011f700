// The fleet view (`--redis`): what the reclaimer process reads from Redis, one row per session's lease. Shown only
// when the demo runs with --redis (the snapshot then carries `fleet`).

const section = document.getElementById('fleet');
const body = section?.querySelector('tbody');
const summary = section?.querySelector('.fleet-summary');

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

/** Renders `snapshot.fleet` (the reclaimer process's latest view), if the demo has one. */
export function renderFleet(snapshot) {
  if (section === null || body === undefined || body === null || !('fleet' in snapshot)) return;
  section.hidden = false;
  const view = snapshot.fleet;
  if (view === null) {
    if (summary) summary.textContent = 'waiting for the reclaimer process…';
    return;
  }
  if (summary) summary.textContent = `${view.sweeps} sweeps, ${view.failedSweeps} failed; last good read ${view.lastReadAgeMs === null ? 'never' : `${view.lastReadAgeMs} ms ago`}`;
  body.replaceChildren(
    ...[...view.sessions].sort((a, b) => a.session.localeCompare(b.session)).map((row) => {
      const tr = document.createElement('tr');
      tr.dataset.session = row.session;
      tr.dataset.status = row.status;
      const reasons = Object.entries(row.counts).map(([reason, n]) => `${reason} ×${n}`).join(', ');
      tr.append(cell(row.session), cell(row.status), cell(reasons || '—'), cell(row.idleMs === null ? '—' : `${Math.round(row.idleMs / 100) / 10} s`), cell(row.owner));
      return tr;
    }),
  );
}
