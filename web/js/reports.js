// The reports page (/reports/): the month's KPIs from GET /api/v1/reports (docs/reports.md) as
// figures and charts (ECharts, served from /vendor/), the early-warning list, the legend, and the
// Excel and CSV files to download. The figures are the server's report, never recomputed here.

import { Api, loadSession, checkToken } from './api.js';
import { showSignIn } from './signin.js';
import { t, translatePage, toggleLanguage, onLanguageChange, language } from './i18n.js';
import { el, district } from './format.js';

const $ = (sel) => document.querySelector(sel);
let api = null;
let role = null;
let report = null;
const charts = {};

async function signIn(token) {
  const { session, refused } = await checkToken(token);
  if (!session) {
    showSignIn(refused ? t('signin.refused') : t('signin.unreachable'));
    return;
  }
  start(session);
}

function start(session) {
  api = new Api(session.token);
  api.onUnauthorized = () => showSignIn(t('signin.refused'));
  $('#signin').hidden = true;
  $('#app').hidden = false;
  role = session.role;
  $('#who').textContent = t(`role.${role}`);
  const fromUrl = new URLSearchParams(location.search).get('period');
  $('#period').value = fromUrl || lastMonth();
  load();
}

// The month before this one, in China Standard Time.
function lastMonth() {
  const now = new Date(Date.now() + 8 * 3600 * 1000);
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();  // 0-based: this month; m - 1 the last
  const d = new Date(Date.UTC(y, m - 1, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

const pct = (share) => `${(share * 100).toFixed(2)}%`;
const minutes = (seconds) => (seconds / 60).toFixed(1);

async function load() {
  const period = $('#period').value;
  $('#status').textContent = t('reports.loading');
  document.body.dataset.reportReady = 'false';
  try {
    report = await api.get(`/api/v1/reports?period=${encodeURIComponent(period)}`);
  } catch (e) {
    $('#status').textContent = t('reports.failed', { why: e.message });
    return;
  }
  $('#status').textContent = '';
  render();
  document.body.dataset.reportReady = 'true';
  document.body.dataset.reportPeriod = report.period.label;
}

function kpi(key, value, id) {
  return el('div', { class: 'kpi', 'data-kpi': id }, el('span', { class: 'kpi-value' }, value),
            el('span', { class: 'kpi-label' }, t(key)));
}

function render() {
  const r = report;
  $('#period-line').textContent = `${r.period.from} .. ${r.period.to}`;
  const fire = (r.fire_escalations || []).reduce((n, row) => n + row.incidents, 0);
  $('#kpis').replaceChildren(
      kpi('reports.kpi.entrapments', String(r.totals.entrapments), 'entrapments'),
      kpi('reports.kpi.rate', r.totals.entrapments_per_10k.toFixed(2), 'rate'),
      kpi('reports.kpi.within_1', pct(r.response.share_within_1_min), 'within_1'),
      kpi('reports.kpi.within_3', pct(r.response.share_within_3_min), 'within_3'),
      kpi('reports.kpi.mean_arrival', minutes(r.arrival.arrival.mean_s), 'mean_arrival'),
      kpi('reports.kpi.p90_arrival', minutes(r.arrival.arrival.p90_s), 'p90_arrival'),
      kpi('reports.kpi.on_time', pct(r.arrival.share_on_time), 'on_time'),
      kpi('reports.kpi.late', String(r.arrival.late), 'late'),
      kpi('reports.kpi.fire', String(fire), 'fire'),
      kpi('reports.kpi.terminals', pct(r.terminals.share_online), 'terminals'));
  renderCharts(r);
  renderWarnings(r);
  $('#legend').replaceChildren(...r.definitions.flatMap((d) => [
    el('dt', {}, d.figure), el('dd', {}, language() === 'en' ? d.en : d.zh)]));
}

function chart(id, option) {
  if (!window.echarts) return;
  const node = document.getElementById(id);
  if (!charts[id]) charts[id] = window.echarts.init(node, null, { renderer: 'canvas' });
  charts[id].setOption(option, true);
}

function renderCharts(r) {
  if (!window.echarts) {
    $('#status').textContent = t('reports.no_charts');
    return;
  }
  const incidents = t('reports.chart.incidents');
  const base = { textStyle: { fontFamily: 'sans-serif' }, animation: false,
                 grid: { left: 48, right: 16, top: 24, bottom: 40 }, tooltip: { trigger: 'axis' } };
  // Arrivals by minutes, the buckets past the 30-minute target in red.
  const buckets = r.arrival_buckets || [];
  chart('chart-arrival', {
    ...base,
    xAxis: { type: 'category', name: t('reports.chart.minutes'),
             data: buckets.map((b) => (b.to_minutes ? `${b.from_minutes}-${b.to_minutes}` : `${b.from_minutes}+`)) },
    yAxis: { type: 'value', name: incidents, minInterval: 1 },
    series: [{
      type: 'bar', name: incidents,
      data: buckets.map((b) => ({ value: b.incidents,
                                  itemStyle: { color: b.from_minutes >= 30 ? '#c0392b' : '#2e86c1' } })),
      markLine: { symbol: 'none', label: { formatter: `${t('reports.chart.target')} 30` },
                  lineStyle: { color: '#c0392b', type: 'dashed' }, data: [{ xAxis: '30-45' }] },
    }],
  });
  const districts = (r.districts || []).filter((d) => d.entrapments > 0 || d.elevators > 0);
  chart('chart-districts', {
    ...base,
    xAxis: { type: 'category', data: districts.map((d) => district(d.district_code)),
             axisLabel: { interval: 0, rotate: 30 } },
    yAxis: { type: 'value', name: incidents, minInterval: 1 },
    series: [{ type: 'bar', name: incidents, data: districts.map((d) => d.entrapments), itemStyle: { color: '#2e86c1' } }],
  });
  const hours = r.hours || [];
  chart('chart-hours', {
    ...base,
    xAxis: { type: 'category', data: hours.map((h) => String(h.hour).padStart(2, '0')) },
    yAxis: { type: 'value', name: incidents, minInterval: 1 },
    series: [{ type: 'bar', name: incidents, data: hours.map((h) => h.entrapments), itemStyle: { color: '#7d3c98' } }],
  });
  const units = (r.units || []).filter((u) => u.judged > 0).slice(0, 10).reverse();
  chart('chart-units', {
    ...base,
    grid: { left: 140, right: 56, top: 16, bottom: 32 },
    xAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
    yAxis: { type: 'category', data: units.map((u) => u.name || u.unit_id) },
    series: [{ type: 'bar', data: units.map((u) => Number((u.share_on_time * 100).toFixed(2))),
               itemStyle: { color: '#1e8449' }, label: { show: true, position: 'right', formatter: '{c}%' } }],
  });
}

function renderWarnings(r) {
  const rows = r.warnings || [];
  if (!rows.length) {
    $('#warnings').replaceChildren(el('p', { class: 'hint' }, t('reports.warnings.none')));
    return;
  }
  const head = ['reports.col.elevator', 'reports.col.address', 'reports.col.unit', 'reports.col.month',
                'reports.col.year'].map((k) => el('th', {}, t(k)));
  $('#warnings').replaceChildren(el('table', { class: 'warnings' },
      el('thead', {}, el('tr', {}, ...head)),
      el('tbody', {}, ...rows.map((w) => el('tr', { 'data-elevator': w.elevator_id },
          el('td', {}, w.elevator_id), el('td', {}, w.address),
          el('td', {}, w.maintenance_unit_name || w.maintenance_unit_id),
          el('td', {}, `${w.most_in_a_month} (${w.month})`), el('td', {}, String(w.in_the_year)))))));
}

// The files come with the token, so through fetch and a blob, not a plain link.
async function download(format) {
  const period = $('#period').value;
  const lang = language() === 'en' ? 'en' : 'zh';
  const response = await fetch(`/api/v1/reports?period=${encodeURIComponent(period)}&format=${format}&lang=${lang}`,
                               { headers: { Authorization: `Bearer ${api.token}` } });
  if (!response.ok) {
    $('#status').textContent = t('reports.failed', { why: `HTTP ${response.status}` });
    return;
  }
  const blob = await response.blob();
  const a = el('a', { href: URL.createObjectURL(blob), download: `report-${period}.${format}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

$('#signin-form').onsubmit = (e) => {
  e.preventDefault();
  signIn($('#signin-token').value.trim());
};
$('#period-form').onsubmit = (e) => {
  e.preventDefault();
  load();
};
$('#download-xlsx').onclick = () => download('xlsx');
$('#download-csv').onclick = () => download('csv');
$('#lang').onclick = () => toggleLanguage();
onLanguageChange(() => {
  if (role) $('#who').textContent = t(`role.${role}`);
  if (report) render();
});
window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()));

translatePage();
const session = loadSession();
if (session) start(session);
else showSignIn();
