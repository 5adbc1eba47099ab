// The live board: open incidents, most urgent first, each with a clock running to its target.
import { t } from './i18n.js';
import { el, ms, label, district, duration, minutes, clockTime } from './format.js';

const amberMs = 10 * 60 * 1000;

// Same order as GET /api/v1/incidents: open ones by least time left, then closed incidents that
// still wait for the follow-up call. Applied again on every update because changes arrive one
// at a time.
export function byUrgency(a, b) {
  const closedA = a.stage === 'STAGE_CLOSED' ? 1 : 0;
  const closedB = b.stage === 'STAGE_CLOSED' ? 1 : 0;
  if (closedA !== closedB) return closedA - closedB;
  return ms(a.target_at_ms) - ms(b.target_at_ms) || Number(a.id) - Number(b.id);
}

export function crewOf(incident) {
  return incident.assigned_crew_id || incident.offered_crew_id || '';
}

// The ETA the operator cares about: the accepted crew's, else the offered crew's ranking entry.
export function etaSeconds(incident) {
  if (incident.assigned_eta_s) return incident.assigned_eta_s;
  const crew = crewOf(incident);
  const hit = incident.last_ranking?.candidates?.find((c) => c.crew_id === crew);
  return hit ? hit.eta_s || 0 : null;
}

// state: 'ok' (running, >10 min), 'amber', 'red', 'done' (arrived in time), 'late' (arrived late).
export function clockState(incident, nowMs) {
  const target = ms(incident.target_at_ms);
  const arrived = ms(incident.arrived_at_ms);
  const alarm = ms(incident.alarm_at_ms);
  if (arrived) {
    return {
      state: arrived > target ? 'late' : 'done',
      text: t('clock.arrived', { m: duration(arrived - alarm) }),
    };
  }
  if (incident.stage === 'STAGE_CANCELLED' || incident.stage === 'STAGE_FOLLOWED_UP')
    return { state: 'done', text: '' };
  const left = target - nowMs;
  if (left < 0) return { state: 'red', text: t('clock.over', { m: duration(-left) }) };
  return { state: left < amberMs ? 'amber' : 'ok', text: t('clock.left', { m: duration(left) }) };
}

export class Board {
  constructor(root, { onSelect, now }) {
    this.root = root;
    this.onSelect = onSelect;
    this.now = now;
    this.incidents = new Map();
    this.selected = null;
    this.listeners = new Set();
    this.render();
  }

  // Views that draw the same incidents (the map) follow the board.
  subscribe(fn) {
    this.listeners.add(fn);
  }

  reset() {
    this.incidents.clear();
    this.render();
  }

  apply(update) {
    const incident = update.incident || {};
    if (update.removed) this.incidents.delete(String(incident.id));
    else if (incident.id) this.incidents.set(String(incident.id), incident);
    this.render();
  }

  list() {
    return [...this.incidents.values()].sort(byUrgency);
  }

  select(id) {
    this.selected = id ? String(id) : null;
    for (const row of this.root.querySelectorAll('tr[data-incident-id]'))
      row.classList.toggle('selected', row.dataset.incidentId === this.selected);
  }

  render() {
    const rows = this.list().map((i) => this.row(i));
    const head = el('tr', {},
      ['clock', 'elevator', 'address', 'district', 'source', 'level', 'stage', 'crew', 'eta'].map((c) =>
        el('th', {}, t(`board.col.${c}`))));
    this.root.replaceChildren(el('table', { class: 'board' }, el('thead', {}, head), el('tbody', {}, rows)));
    if (!rows.length) this.root.append(el('p', { class: 'empty' }, t('board.empty')));
    this.tick();
    for (const fn of this.listeners) fn(this.list());
  }

  row(i) {
    const alarm = (i.alarms || [])[0] || {};
    const eta = etaSeconds(i);
    const etaText = eta === null ? '' : `${minutes(eta)}${i.accepted_at_ms ? ` (${clockTime(ms(i.accepted_at_ms) + eta * 1000).slice(0, 5)})` : ''}`;
    const tr = el('tr', {
      dataset: { incidentId: String(i.id), stage: i.stage || '' },
      class: String(i.id) === this.selected ? 'selected' : '',
      onclick: () => this.onSelect(String(i.id)),
    },
      el('td', { class: 'clock', dataset: { role: 'clock' } }),
      el('td', {}, i.elevator?.rescue_code || '', el('div', { class: 'sub' }, i.elevator?.elevator_id || '')),
      el('td', { class: 'address' }, i.elevator?.address || ''),
      el('td', {}, district(i.elevator?.district_code)),
      el('td', {}, label('source', alarm.source)),
      el('td', { class: `level ${i.level || ''}` }, label('level', i.level)),
      el('td', { class: 'stage', dataset: { role: 'stage' } }, label('stage', i.stage)),
      el('td', { dataset: { role: 'crew' } }, crewOf(i)),
      el('td', { dataset: { role: 'eta' } }, etaText),
    );
    return tr;
  }

  // Called every second: only the clock cells change, so rows keep their selection and focus.
  tick() {
    const now = this.now();
    for (const row of this.root.querySelectorAll('tr[data-incident-id]')) {
      const incident = this.incidents.get(row.dataset.incidentId);
      const cell = row.querySelector('[data-role=clock]');
      if (!incident || !cell) continue;
      const c = clockState(incident, now);
      cell.textContent = c.text;
      cell.className = `clock ${c.state}`;
      row.dataset.clock = c.state;
    }
  }
}
