// The crew's phone page: sign in, receive jobs, answer them, report progress, send GPS.
import { t, translatePage, toggleLanguage, onLanguageChange } from '/js/i18n.js';
import { el, ms, label, distance, minutes, haversine, clockTime } from '/js/format.js';
import { CrewChannel } from './channel.js';

const $ = (sel) => document.querySelector(sel);
// localStorage, not sessionStorage: the phone is the crew member's own, and a 64-character
// token is not something to retype on a job.
const sessionKey = 'rescue.crew.session';
// Positions older than 5 minutes are not offered jobs; re-sending every minute keeps a crew
// standing still eligible.
const resendPositionMs = 60000;
const active = ['offered', 'accepted', 'departed', 'arrived'];
const progress = ['offered', 'accepted', 'departed', 'arrived', 'released'];
const jobsKey = (crew) => `rescue.crew.jobs.${crew}`;
const keepDone = 10;
const nextStatus = { accept: 'accepted', departed: 'departed', arrived: 'arrived', released: 'released' };

const state = {
  crew: null,
  channel: null,
  jobs: new Map(),      // incident id -> {offer, status, missed, pending, error, reason}
  log: [],
  position: null,       // {lat, lon, at, accuracy, source}
  gpsWatch: null,
  gpsError: '',
  resendTimer: null,
  // As the server last said (CrewStatus): null until it has. `shiftPending` while a switch waits
  // for its answer; `shiftError` the last refusal.
  onDuty: null,
  shiftPending: false,
  shiftError: '',
};

function loadSession() {
  try {
    const s = JSON.parse(localStorage.getItem(sessionKey) || 'null');
    return s && s.crew && s.token ? s : null;
  } catch {
    return null;
  }
}

function addLog(text) {
  state.log.unshift(`${clockTime(Date.now())} ${text}`);
  state.log.length = Math.min(state.log.length, 30);
}

function onMessage(msg, { openedAt }) {
  if (msg.offer) {
    const o = msg.offer;
    const id = String(o.incident_id);
    const prev = state.jobs.get(id);
    // The same offer again (resent) keeps its progress; a new offer for the incident restarts it.
    if (!prev || prev.offer.offered_at_ms !== o.offered_at_ms) {
      // Offered before this connection opened: it waited in the server's resend list while the
      // phone was offline. This compares the server's clock with the phone's; phones keep network
      // time, and a wrong badge costs less than a job nobody notices was late to arrive.
      const missed = ms(o.offered_at_ms) < openedAt;
      state.jobs.set(id, { offer: o, status: 'offered', missed, pending: null, error: '' });
      // Browsers refuse vibration before the user has touched the page (and log it as an error).
      if (navigator.vibrate && navigator.userActivation?.hasBeenActive) navigator.vibrate([300, 100, 300]);
    }
    addLog(`offer ${id} ${o.address || ''}`);
  } else if (msg.withdrawn) {
    const id = String(msg.withdrawn.incident_id);
    const job = state.jobs.get(id);
    if (job) Object.assign(job, { status: 'withdrawn', reason: msg.withdrawn.reason || '', pending: null });
    addLog(`withdrawn ${id} ${msg.withdrawn.reason || ''}`);
  } else if (msg.notice) {
    applyNotice(msg.notice.text || '');
    addLog(msg.notice.text || '');
  } else if (msg.status) {
    state.onDuty = Boolean(msg.status.on_duty);
    state.shiftPending = false;
  }
  render();
}

// "<result> <action> <incident_id>[: reason]", or "<result> shift on|off[: reason]"
function applyNotice(text) {
  const s = text.match(/^(\S+) shift (on|off)(?::\s*(.*))?$/);
  if (s) {
    // Success is followed by a status, which settles the switch; a refusal settles it here.
    if (s[1] !== 'ok') {
      state.shiftPending = false;
      state.shiftError = `${s[1]}${s[3] ? `: ${s[3]}` : ''}`;
    }
    return;
  }
  const m = text.match(/^(\S+) (\S+) (\d+)(?::\s*(.*))?$/);
  if (!m) return;
  const [, result, action, id, reason] = m;
  const job = state.jobs.get(id);
  if (!job) return;
  job.pending = null;
  if (result === 'ok') {
    job.error = '';
    if (action === 'decline') Object.assign(job, { status: 'withdrawn', reason: t('crew.decline') });
    // Forward only: after a reload the server may resend an older notice ("ok accept") that
    // must not undo "departed".
    else if (nextStatus[action] && progress.indexOf(nextStatus[action]) > progress.indexOf(job.status))
      job.status = nextStatus[action];
  } else {
    job.error = `${result}${reason ? `: ${reason}` : ''}`;
  }
}

function act(id, action) {
  const job = state.jobs.get(id);
  if (!job || job.pending) return;
  job.pending = action;
  job.error = '';
  const body = { incident_id: String(id) };
  if (action === 'decline') body.reason = 'declined on the crew page';
  state.channel.send({ [action]: body });
  render();
}

function toggleShift() {
  if (state.onDuty === null || state.shiftPending || !state.channel) return;
  state.shiftPending = true;
  state.shiftError = '';
  state.channel.send({ shift: { on_duty: !state.onDuty } });
  render();
}

function sendPosition(lat, lon, accuracy, source) {
  state.position = { lat, lon, at: Date.now(), accuracy, source };
  const location = { position: { lat, lon }, at_ms: String(state.position.at) };
  if (accuracy) location.accuracy_m = accuracy;
  state.channel?.send({ location });
  render();
}

function startGps() {
  if (!('geolocation' in navigator)) {
    state.gpsError = 'navigator.geolocation';
    return;
  }
  state.gpsWatch = navigator.geolocation.watchPosition(
    (p) => {
      state.gpsError = '';
      const prev = state.position;
      const here = { lat: p.coords.latitude, lon: p.coords.longitude };
      // Every fix would flood the server; send when moved 20 m or 10 s passed.
      if (!prev || haversine(prev, here) > 20 || Date.now() - prev.at > 10000)
        sendPosition(here.lat, here.lon, Math.round(p.coords.accuracy || 0), 'gps');
    },
    (err) => {
      state.gpsError = err.message || `code ${err.code}`;
      render();
    },
    { enableHighAccuracy: true, maximumAge: 10000, timeout: 30000 },
  );
}

function stopGps() {
  if (state.gpsWatch !== null) navigator.geolocation.clearWatch(state.gpsWatch);
  state.gpsWatch = null;
}

function currentJob() {
  const list = [...state.jobs.values()].filter((j) => active.includes(j.status));
  list.sort((a, b) => ms(b.offer.offered_at_ms) - ms(a.offer.offered_at_ms));
  return list[0] || null;
}

function jobCard(job) {
  const o = job.offer;
  const id = String(o.incident_id);
  const here = state.position;
  const dist = here && o.location ? haversine(here, o.location) : o.distance_m;
  const btn = (action, cls, enabled) => el('button', {
    type: 'button', class: cls, dataset: { action },
    disabled: !enabled || !!job.pending, onclick: () => act(id, action),
  }, t(`crew.${action}`));
  const s = job.status;
  const left = Math.max(0, Math.round((ms(o.expires_at_ms) - Date.now()) / 1000));
  return el('article', { class: `job ${s}`, dataset: { incidentId: id, status: s } },
    job.missed ? el('p', { class: 'missed', dataset: { role: 'missed' } }, t('crew.missed')) : null,
    el('p', { class: 'status', dataset: { role: 'status' } },
      s === 'offered' ? t('crew.offered', { s: left }) : t(`crew.status.${s}`, { reason: job.reason || '' })),
    el('h2', { dataset: { role: 'address' } }, o.address || ''),
    el('dl', {},
      el('dt', {}, t('crew.elevator')), el('dd', {}, `${o.rescue_code || ''} · ${o.registration_code || o.elevator_id || ''}`),
      el('dt', {}, t('crew.caller')), el('dd', {}, o.caller_name || '',
        o.caller_phone ? [' ', el('a', { href: `tel:${o.caller_phone}` }, o.caller_phone)] : ''),
      el('dt', {}, t('crew.distance')), el('dd', { dataset: { role: 'distance' } }, distance(dist)),
      el('dt', {}, t('crew.eta')), el('dd', {}, minutes(o.eta_s)),
      el('dt', {}, ''), el('dd', {}, label('level', o.level),
        o.people_trapped ? ` · ${t('crew.trapped')}` : '', o.injured ? ` · ${t('crew.injured')}` : ''),
    ),
    job.error ? el('p', { class: 'error', dataset: { role: 'error' } }, job.error) : null,
    el('div', { class: 'buttons' },
      s === 'offered' ? [btn('accept', 'primary', true), btn('decline', '', true)] : null,
      active.includes(s) && s !== 'offered' ? [
        btn('departed', '', s === 'accepted'),
        btn('arrived', '', s === 'accepted' || s === 'departed'),
        btn('released', 'primary', s === 'arrived')] : null,
    ),
  );
}

// Jobs are kept on the phone: the server does not resend a job once it is receipted and
// accepted, so a reloaded page must still know what it is working on.
function saveJobs() {
  if (!state.crew) return;
  const all = [...state.jobs.values()];
  const keep = all.filter((j) => active.includes(j.status)).concat(all.filter((j) => !active.includes(j.status)).slice(-keepDone));
  localStorage.setItem(jobsKey(state.crew), JSON.stringify(keep));
}

function loadJobs(crew) {
  state.jobs.clear();
  try {
    for (const j of JSON.parse(localStorage.getItem(jobsKey(crew)) || '[]'))
      state.jobs.set(String(j.offer.incident_id), { ...j, pending: null });
  } catch {
    // A damaged copy is not worth more than starting clean.
  }
}

function render() {
  saveJobs();
  const job = currentJob();
  $('#job').replaceChildren(job ? jobCard(job) : el('p', { class: 'empty' }, t('crew.no_job')));
  const done = [...state.jobs.values()].filter((j) => !active.includes(j.status));
  $('#history').replaceChildren(...done.map((j) => el('li', { dataset: { incidentId: String(j.offer.incident_id) } },
    `${j.offer.incident_id} · ${j.offer.address || ''} · `, t(`crew.status.${j.status}`, { reason: j.reason || '' }))));
  $('#history-box').hidden = done.length === 0;
  const p = state.position;
  $('#gps').textContent = state.gpsWatch !== null && !state.gpsError && p?.source === 'gps'
    ? t('crew.gps_on', { acc: p.accuracy || '?' })
    : state.gpsError ? t('crew.gps_off', { why: state.gpsError }) : '';
  $('#position').textContent = p ? `${p.lat.toFixed(5)}, ${p.lon.toFixed(5)} · ${t('crew.location_sent', { time: clockTime(p.at) })}` : '';
  $('#log').replaceChildren(...state.log.map((l) => el('li', {}, l)));
  const duty = state.onDuty === null ? 'unknown' : state.onDuty ? 'on' : 'off';
  $('#shift-state').dataset.duty = duty;
  $('#shift-state').textContent = t(`crew.duty.${duty}`);
  const button = $('#shift');
  button.textContent = state.onDuty ? t('crew.sign_off') : t('crew.sign_on');
  button.className = state.onDuty ? '' : 'primary';
  button.disabled = state.onDuty === null || state.shiftPending;
  $('#shift-error').textContent = state.shiftError;
}

function setStatus(s, secs) {
  const tag = $('#conn');
  tag.dataset.state = s;
  if (s === 'refused') {
    signOut(t('crew.refused'));
    return;
  }
  tag.textContent = s === 'offline' ? t('crew.offline', { s: secs }) : s === 'replaced' ? t('crew.replaced')
    : s === 'online' ? t('crew.online') : t('crew.connecting');
  if (s === 'online' && state.position) {
    // A fresh connection: tell the server where we are straight away.
    sendPosition(state.position.lat, state.position.lon, state.position.accuracy, state.position.source);
  }
}

function start(session) {
  $('#signin').hidden = true;
  $('#app').hidden = false;
  $('#crew-name').textContent = session.crew;
  state.crew = session.crew;
  loadJobs(session.crew);
  state.channel = new CrewChannel({ crewId: session.crew, token: session.token, onMessage, onStatus: setStatus });
  state.channel.start();
  startGps();
  state.resendTimer = setInterval(() => {
    const p = state.position;
    if (p) sendPosition(p.lat, p.lon, p.accuracy, p.source);
  }, resendPositionMs);
  // Offer countdowns.
  // Only the text changes: re-rendering the card every second could swallow a tap on "accept".
  state.ticker = setInterval(() => {
    const job = currentJob();
    const line = document.querySelector('#job [data-role=status]');
    if (job?.status === 'offered' && line)
      line.textContent = t('crew.offered', { s: Math.max(0, Math.round((ms(job.offer.expires_at_ms) - Date.now()) / 1000)) });
  }, 1000);
  render();
}

function signOut(error) {
  state.channel?.stop();
  stopGps();
  clearInterval(state.resendTimer);
  clearInterval(state.ticker);
  state.channel = null;
  if (state.crew) localStorage.removeItem(jobsKey(state.crew));
  state.crew = null;
  state.jobs.clear();
  state.log = [];
  state.position = null;
  state.onDuty = null;
  state.shiftPending = false;
  state.shiftError = '';
  localStorage.removeItem(sessionKey);
  $('#app').hidden = true;
  $('#signin').hidden = false;
  $('#signin-error').textContent = error || '';
}

translatePage();
$('#lang').onclick = toggleLanguage;
onLanguageChange(() => render());
$('#signout').onclick = () => signOut('');
$('#shift').onclick = toggleShift;
$('#signin-form').onsubmit = (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const session = { crew: String(f.get('crew')).trim(), token: String(f.get('token')).trim() };
  localStorage.setItem(sessionKey, JSON.stringify(session));
  $('#signin-error').textContent = '';
  start(session);
};
$('#manual-form').onsubmit = (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const lat = Number(f.get('lat'));
  const lon = Number(f.get('lon'));
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return;
  // Someone typing a position knows better than the fix that made them type it: stop GPS
  // from overwriting it until the page is reloaded.
  stopGps();
  sendPosition(lat, lon, 0, 'manual');
};

const saved = loadSession();
if (saved) start(saved);
