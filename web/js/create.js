// New incident from a phone call: look the elevator up by the code the caller reads from the car
// sign, read its address and responsible parties back, then create.
import { t } from './i18n.js';
import { el, label } from './format.js';
import { sources } from './causes.js';
import { elevatorCard } from './elevator.js';

export class CreatePanel {
  constructor(root, { api, role, onCreated, onMessage }) {
    this.root = root;
    this.api = api;
    this.role = role;
    this.onCreated = onCreated;
    this.onMessage = onMessage;
    this.found = null;
    this.render();
  }

  render() {
    const readonly = this.role !== 'operator';
    this.code = el('input', { name: 'code', inputmode: 'numeric', autocomplete: 'off', required: true,
      placeholder: t('create.code'), oninput: () => this.clear() });
    this.card = el('div', { class: 'lookup', dataset: { role: 'lookup' } });
    this.submit = el('button', { type: 'submit', class: 'primary', disabled: true, dataset: { role: 'create' } }, t('create.submit'));
    this.form = el('form', { onsubmit: (e) => { e.preventDefault(); this.create(); } },
      el('fieldset', { disabled: readonly, dataset: { write: '' } },
        el('div', { class: 'row' }, this.code,
          el('button', { type: 'button', dataset: { role: 'lookup-button' }, onclick: () => this.lookup() }, t('create.lookup'))),
        this.card,
        el('label', {}, t('create.source'), ' ', el('select', { name: 'source' },
          sources.map((s) => el('option', { value: s }, label('source', s))))),
        el('div', { class: 'row' },
          el('input', { name: 'caller_name', placeholder: t('create.caller_name') }),
          el('input', { name: 'caller_phone', placeholder: t('create.caller_phone'), inputmode: 'tel' })),
        el('label', {}, el('input', { type: 'checkbox', name: 'people_trapped', checked: true }), t('create.trapped')),
        el('label', {}, el('input', { type: 'checkbox', name: 'injured' }), t('create.injured')),
        this.submit));
    // Enter in the code field looks up rather than creating: a create must follow a read-back.
    this.code.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        this.lookup();
      }
    });
    this.root.replaceChildren(this.form);
  }

  clear() {
    this.found = null;
    this.card.replaceChildren();
    this.submit.disabled = true;
  }

  async lookup() {
    const code = this.code.value.trim();
    this.clear();
    if (!code) return;
    try {
      const found = await this.api.elevator(code);
      if (this.code.value.trim() !== code) return;
      this.found = { code, lookup: found };
      this.card.replaceChildren(elevatorCard(found));
      this.submit.disabled = false;
    } catch (e) {
      this.card.replaceChildren(el('p', { class: 'error' }, e.status === 404 ? `${code}: ${e.code}` : e.message));
    }
  }

  async create() {
    if (!this.found) return;
    const f = new FormData(this.form);
    // The elevator's platform id is unambiguous; the code typed could also be a registration code.
    const e = this.found.lookup.elevator || {};
    const body = {
      source: f.get('source'),
      caller_name: f.get('caller_name') || '',
      caller_phone: f.get('caller_phone') || '',
      people_trapped: f.has('people_trapped'),
      injured: f.has('injured'),
    };
    if (e.rescue_code) body.rescue_code = e.rescue_code;
    else body.registration_code = e.registration_code || e.certificate_no || this.found.code;
    this.submit.disabled = true;
    try {
      const r = await this.api.create(body);
      this.onMessage(t(r.merged ? 'create.merged' : 'create.created', { id: r.incident_id }));
      this.form.reset();
      this.clear();
      this.onCreated(r.incident_id);
    } catch (err) {
      this.submit.disabled = false;
      this.onMessage(t('actions.failed', { msg: err.status === 403 ? t('error.forbidden') : `${err.code || ''} ${err.message}` }), true);
    }
  }
}
