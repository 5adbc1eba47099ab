// The elevator card: what the operator reads back to a caller before creating an incident.
import { t } from './i18n.js';
import { el, district } from './format.js';

function row(key, ...value) {
  return [el('dt', {}, t(key)), el('dd', {}, ...value)];
}

function party(p) {
  if (!p) return t('elevator.none');
  return [p.name || p.id, p.contact_name || p.contact_phone ? el('div', { class: 'sub' },
    [p.contact_name, p.contact_phone].filter(Boolean).join(' ')) : null];
}

// lookup = the GET /api/v1/elevators/{code} answer.
export function elevatorCard(lookup) {
  const e = lookup.elevator || {};
  const target = e.area === 'AREA_RURAL' ? 60 : 30;
  return el('dl', { class: 'card elevator', dataset: { elevatorId: e.id || '' } },
    row('elevator.rescue_code', e.rescue_code || ''),
    row('elevator.registration', e.registration_code || e.certificate_no || ''),
    row('elevator.address', e.address || ''),
    row('elevator.district', district(e.district_code)),
    row('elevator.place', (e.place_type || '').replace('PLACE_', '').toLowerCase()),
    row('elevator.brand', [e.brand, e.install_year].filter(Boolean).join(' / ')),
    row('elevator.unit', lookup.maintenance_unit ? party(lookup.maintenance_unit) : el('strong', { class: 'warn' }, t('elevator.no_unit'))),
    row('elevator.operator', party(lookup.building_operator)),
    row('elevator.target', t('unit.min', { n: target })),
  );
}
