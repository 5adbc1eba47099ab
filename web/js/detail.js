// Incident detail: times, alarms, the ranked candidates with exclusion reasons, the full
// timeline, and the operator's commands. Auditors see the same panel with every command disabled.
import { t } from './i18n.js';
import { el, ms, label, district, dateTime, clockTime, duration, minutes, distance } from './format.js';
import { causes, cancelReasons, followUpResults } from './causes.js';
import { clockState, crewOf } from './board.js';

const order = ['STAGE_REPORTED', 'STAGE_OFFERED', 'STAGE_ACCEPTED', 'STAGE_DEPARTED', 'STAGE_ARRIVED',
  'STAGE_RELEASED', 'STAGE_CLOSED', 'STAGE_FOLLOWED_UP'];
const before = (stage, limit) => order.indexOf(stage) >= 0 && order.indexOf(stage) < order.indexOf(limit);

// Which commands make sense in which stage. The server is the authority (409 wrong_stage); this
// only keeps buttons that cannot work from inviting a click.
export function allowed(i) {
  const s = i.stage;
  const open = s !== 'STAGE_CANCELLED' && s !== 'STAGE_FOLLOWED_UP';
  return {
    'confirm-trapped': before(s, 'STAGE_RELEASED'),
    assign: before(s, 'STAGE_ARRIVED'),
    escalate: before(s, 'STAGE_RELEASED') && i.level !== 'LEVEL_3_FIRE',
    cancel: before(s, 'STAGE_RELEASED'),
    close: s === 'STAGE_RELEASED' || (s === 'STAGE_ARRIVED' && i.fire_notified),
    'follow-up': s === 'STAGE_CLOSED',
    notes: open,
  };
}

function eventBody(e) {
  const key = Object.keys(e).find((k) => k !== 'incident_id' && k !== 'at_ms');
  return [key, e[key] || {}];
}

function eventDetail(kind, b) {
  const who = (id) => (id ? `[${id}]` : '');
  switch (kind) {
    case 'opened':
      return [label('source', b.alarm?.source), b.alarm?.caller_name, b.alarm?.caller_phone,
        label('level', b.start_level), who(b.alarm?.operator_id)].filter(Boolean).join(' ');
    case 'merged':
      return [label('source', b.alarm?.source), b.alarm?.caller_name, b.alarm?.caller_phone].filter(Boolean).join(' ');
    case 'trapped_confirmed':
      return `${t('detail.injured')}: ${b.injured ? t('yes') : t('no')} ${who(b.operator_id)}`;
    case 'candidates_ranked':
      return `${label('level', b.level)}: ${(b.candidates || []).map((c) => `${c.rank}. ${c.crew_id} ${minutes(c.eta_s)}`).join(', ') || t('ranking.none')}`;
    case 'offer_made':
      return `${b.crew_id} #${b.rank || '-'} ${minutes(b.eta_s)} ${distance(b.distance_m)} ${b.manual ? who(b.operator_id) : ''}`;
    case 'offer_declined':
    case 'offer_withdrawn':
      return `${b.crew_id || ''} ${b.reason || ''}`;
    case 'level_escalated':
      return `${label('level', b.from)} → ${label('level', b.to)} ${(b.reason || '').replace('ESCALATION_', '').toLowerCase()} ${b.detail || ''} ${who(b.operator_id)}`;
    case 'fire_acknowledged':
    case 'fire_arrived':
      return b.fire_unit || '';
    case 'cancelled':
      return `${label('cancel', b.reason)} ${b.detail || ''} ${who(b.operator_id)}`;
    case 'closed':
      return `${label('cause', b.cause?.category)} / ${b.cause?.sub_cause ? label('sub', b.cause.sub_cause) : ''} ${who(b.operator_id)}`;
    case 'follow_up':
      return `${label('followup', b.result)} ${b.remark || ''} ${who(b.operator_id)}`;
    case 'note':
      return `${who(b.operator_id)} ${b.text || ''}`;
    case 'deadline_armed':
      return `${(b.kind || '').replace('DEADLINE_', '').toLowerCase()} → ${clockTime(ms(b.at_ms))}`;
    case 'deadline_cleared':
      return (b.kind || '').replace('DEADLINE_', '').toLowerCase();
    case 'trapped_cleared':
      return [b.terminal_id, b.kept_open_because ? `${t('detail.kept_open')}: ${b.kept_open_because}` : '']
        .filter(Boolean).join(' ');
    default:
      return b.crew_id || b.terminal_id || '';
  }
}

function options(values, prefix) {
  return values.map((v) => el('option', { value: v }, label(prefix, v)));
}

export class Detail {
  constructor(root, { api, role, now, onMessage }) {
    this.root = root;
    this.api = api;
    this.role = role;
    this.now = now;
    this.onMessage = onMessage;
    this.incident = null;
    this.id = null;
    this.loading = null;
    this.renderEmpty();
  }

  renderEmpty() {
    this.root.replaceChildren(el('p', { class: 'empty' }, t('detail.none')));
  }

  async show(id) {
    this.id = id ? String(id) : null;
    if (!this.id) {
      this.incident = null;
      this.renderEmpty();
      return;
    }
    await this.refresh();
  }

  // Live updates for the open incident trigger a re-fetch (the feed has no timeline); calls
  // that arrive while one is in flight are folded into one more fetch.
  async refresh() {
    if (!this.id) return;
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    const id = this.id;
    this.loading = this.api.incident(id).then((incident) => {
      if (this.id === id) {
        this.incident = incident;
        this.render();
      }
    }).catch((e) => this.onMessage(t('actions.failed', { msg: e.message }), true))
      .finally(() => {
        this.loading = null;
        if (this.again) {
          this.again = false;
          this.refresh();
        }
      });
    return this.loading;
  }

  tick() {
    const cell = this.root.querySelector('[data-role=detail-clock]');
    if (!cell || !this.incident) return;
    const c = clockState(this.incident, this.now());
    cell.textContent = c.text;
    cell.className = `clock big ${c.state}`;
  }

  render() {
    const i = this.incident;
    if (!i) return this.renderEmpty();
    const e = i.elevator || {};
    const alarm = ms(i.alarm_at_ms);
    const arrived = ms(i.arrived_at_ms);
    const times = [
      ['detail.alarm_at', i.alarm_at_ms], ['detail.target_at', i.target_at_ms],
      ['detail.accepted_at', i.accepted_at_ms], ['detail.arrived_at', i.arrived_at_ms],
      ['detail.released_at', i.released_at_ms], ['detail.closed_at', i.closed_at_ms],
    ].filter(([, v]) => ms(v));
    const focus = document.activeElement && this.root.contains(document.activeElement) ? document.activeElement.name : null;
    // Live updates re-render the panel; what the operator was typing must survive that.
    const typed = this.shownId === String(i.id) ? this.formValues() : new Map();
    this.shownId = String(i.id);

    this.root.replaceChildren(
      el('header', { class: 'detail-head' },
        el('h2', {}, t('detail.incident', { id: i.id }), ' ',
          el('span', { class: 'stage-tag', dataset: { role: 'detail-stage', stage: i.stage || '' } }, label('stage', i.stage))),
        el('span', { class: 'clock big', dataset: { role: 'detail-clock' } }),
        el('button', { type: 'button', class: 'link', dataset: { role: 'close-detail' }, onclick: () => this.show(null) }, t('detail.close_panel'))),
      el('p', { class: 'where' }, `${e.rescue_code || ''} · ${e.address || ''} · ${district(e.district_code)} · ${label('level', i.level)}`),
      el('dl', { class: 'card times' },
        times.map(([k, v]) => [el('dt', {}, t(k)), el('dd', { dataset: { role: k.replace('detail.', '') } }, dateTime(ms(v)))]),
        arrived ? [el('dt', {}, t('detail.arrival_time')), el('dd', { dataset: { role: 'arrival-time' } }, duration(arrived - alarm))] : null,
        i.late ? [el('dt', {}, ''), el('dd', { class: 'warn' }, t('detail.late', { m: i.minutes_over_target || 0 }))] : null,
        [el('dt', {}, t('detail.trapped')), el('dd', {}, i.people_trapped ? t('yes') : t('no'), i.injured ? ` · ${t('detail.injured')}` : '')],
        i.fire_notified ? [el('dt', {}, t('detail.fire')), el('dd', {}, t(i.fire_acknowledged ? 'detail.fire_ack' : 'detail.fire_notified'))] : null,
        [el('dt', {}, t('board.col.crew')), el('dd', {}, crewOf(i) || '—')],
        i.cause?.category ? [el('dt', {}, t('detail.cause')), el('dd', { dataset: { role: 'cause' } },
          `${label('cause', i.cause.category)} / ${i.cause.sub_cause ? label('sub', i.cause.sub_cause) : ''}`)] : null,
      ),
      el('h3', {}, t('detail.callers')),
      el('ul', { class: 'alarms' }, (i.alarms || []).map((a) => el('li', {},
        [label('source', a.source), a.terminal_event ? a.terminal_event.replace('EVENT_', '').toLowerCase() : '',
          a.caller_name, a.caller_phone, a.operator_id ? `[${a.operator_id}]` : '',
          a.repeats ? t('detail.repeats', { n: a.repeats }) : ''].filter(Boolean).join(' ')))),
      (i.alarm_count || 0) > (i.alarms || []).reduce((n, a) => n + 1 + (a.repeats || 0), 0)
        ? el('p', { class: 'muted' }, t('detail.alarms_more', { n: i.alarm_count })) : null,
      i.cleared_by_terminal && i.stage !== 'STAGE_CANCELLED'
        ? el('p', { class: 'warn', dataset: { role: 'cleared-by-terminal' } }, t('detail.cleared_open')) : null,
      this.actions(i),
      this.ranking(i),
      this.timeline(i),
    );
    this.restoreValues(typed);
    if (focus) this.root.querySelector(`[name="${focus}"]`)?.focus();
    this.tick();
  }

  formValues() {
    const values = new Map();
    for (const form of this.root.querySelectorAll('form[data-action]')) {
      if (form.dataset.action === this.justDone) continue;
      for (const input of form.elements) {
        if (!input.name) continue;
        values.set(`${form.dataset.action}:${input.name}`, input.type === 'checkbox' ? input.checked : input.value);
      }
    }
    this.justDone = null;
    return values;
  }

  // In document order, so the cause category is set (and its sub-cause list filled) before the
  // sub-cause is restored.
  restoreValues(values) {
    for (const form of this.root.querySelectorAll('form[data-action]')) {
      for (const input of form.elements) {
        const key = `${form.dataset.action}:${input.name}`;
        if (!input.name || !values.has(key)) continue;
        if (input.type === 'checkbox') input.checked = values.get(key);
        else input.value = values.get(key);
        if (input.tagName === 'SELECT') input.dispatchEvent(new Event('change'));
      }
    }
  }

  ranking(i) {
    const r = i.last_ranking || {};
    const can = allowed(i).assign && this.role === 'operator';
    const cands = r.candidates || [];
    const excl = r.exclusions || [];
    return el('section', { class: 'ranking' },
      el('h3', {}, t('ranking.title'), r.level ? ` · ${label('level', r.level)}` : ''),
      cands.length ? el('table', { dataset: { role: 'candidates' } },
        el('tr', {}, ['rank', 'crew', 'unit', 'level', 'eta', 'distance'].map((k) => el('th', {}, t(`ranking.${k}`))), el('th')),
        cands.map((c) => el('tr', { dataset: { crewId: c.crew_id } },
          el('td', {}, c.rank || ''), el('td', {}, c.crew_id), el('td', {}, c.unit_id || ''),
          el('td', {}, label('level', c.level)), el('td', {}, minutes(c.eta_s)), el('td', {}, distance(c.distance_m || 0)),
          el('td', {}, el('button', {
            type: 'button', disabled: !can || c.crew_id === crewOf(i), dataset: { write: '', action: 'assign' },
            onclick: () => this.run('assign', { crew_id: c.crew_id }),
          }, t('ranking.assign')))))) : el('p', { class: 'empty' }, t('ranking.none')),
      excl.length ? [el('h4', {}, t('exclusions.title')), el('table', { dataset: { role: 'exclusions' } },
        el('tr', {}, el('th', {}, t('ranking.crew')), el('th', {}, t('ranking.unit')), el('th', {}, t('ranking.distance')), el('th', {}, t('exclusions.reason'))),
        excl.map((x) => el('tr', {}, el('td', {}, x.crew_id), el('td', {}, x.unit_id || ''),
          el('td', {}, distance(x.distance_m || 0)), el('td', {}, label('exclusion', x.reason)))))] : null,
    );
  }

  timeline(i) {
    return el('section', { class: 'timeline' },
      el('h3', {}, t('timeline.title')),
      el('table', { dataset: { role: 'timeline' } },
        el('tr', {}, el('th', {}, t('timeline.time')), el('th', {}, t('timeline.event')), el('th', {}, t('timeline.detail'))),
        (i.timeline || []).map((ev) => {
          const [kind, body] = eventBody(ev);
          return el('tr', { dataset: { event: kind } },
            el('td', { class: 'nowrap' }, clockTime(ms(ev.at_ms))), el('td', {}, label('event', kind)),
            el('td', {}, eventDetail(kind, body)));
        })));
  }

  // Each command is a small form; a <fieldset disabled> disables everything inside it at once.
  actions(i) {
    const ok = allowed(i);
    const readonly = this.role !== 'operator';
    const form = (action, children, submit) => el('form', {
      class: 'action', dataset: { action },
      onsubmit: (ev) => {
        ev.preventDefault();
        this.run(action, submit(new FormData(ev.target)));
      },
    }, el('fieldset', { disabled: readonly || !ok[action], dataset: { write: '' } }, children));

    const category = el('select', { name: 'category', onchange: () => fillSub() }, options(Object.keys(causes), 'cause'));
    const sub = el('select', { name: 'sub_cause' });
    const fillSub = () => sub.replaceChildren(...causes[category.value].map((c) => el('option', { value: c }, label('sub', c))));
    fillSub();

    return el('section', { class: 'actions' },
      el('h3', {}, t('actions.title')),
      readonly ? el('p', { class: 'readonly', dataset: { role: 'readonly' } }, t('actions.readonly')) : null,
      form('confirm-trapped', [
        el('label', {}, el('input', { type: 'checkbox', name: 'injured' }), t('actions.confirm_injured')),
        el('button', {}, t('actions.confirm'))], (f) => ({ injured: f.has('injured') })),
      form('assign', [
        el('input', { name: 'crew_id', placeholder: t('actions.assign_crew'), required: true, size: 10 }),
        el('button', {}, t('actions.assign'))], (f) => ({ crew_id: f.get('crew_id').trim() })),
      form('escalate', [
        el('input', { name: 'escalate_detail', placeholder: t('actions.escalate_detail') }),
        el('button', { class: 'danger' }, t('actions.escalate'))], (f) => ({ detail: f.get('escalate_detail') })),
      form('cancel', [
        el('select', { name: 'reason' }, options(cancelReasons, 'cancel')),
        el('input', { name: 'cancel_detail', placeholder: t('actions.cancel_detail') }),
        el('button', {}, t('actions.cancel'))], (f) => ({ reason: f.get('reason'), detail: f.get('cancel_detail') })),
      form('close', [
        el('label', {}, t('actions.cause_category'), ' ', category),
        el('label', {}, t('actions.sub_cause'), ' ', sub),
        el('button', { class: 'primary' }, t('actions.close'))],
      (f) => ({ cause: { category: f.get('category'), sub_cause: f.get('sub_cause') } })),
      form('follow-up', [
        el('select', { name: 'result' }, options(followUpResults, 'followup')),
        el('input', { name: 'remark', placeholder: t('actions.follow_up_remark') }),
        el('button', {}, t('actions.follow_up'))], (f) => ({ result: f.get('result'), remark: f.get('remark') })),
      form('notes', [
        el('input', { name: 'text', placeholder: t('actions.note_text'), required: true, maxlength: 1000 }),
        el('button', {}, t('actions.note'))], (f) => ({ text: f.get('text') })),
    );
  }

  async run(action, body) {
    if (!this.incident) return;
    try {
      await this.api.command(this.incident.id, action, body);
      this.justDone = action;  // that form starts empty again
      this.onMessage(t('actions.done', { what: `${t('detail.incident', { id: this.incident.id })} ${action}` }));
      await this.refresh();
    } catch (e) {
      const msg = e.status === 403 ? t('error.forbidden') : `${e.code || ''} ${e.message}`;
      this.onMessage(t('actions.failed', { msg }), true);
    }
  }
}
