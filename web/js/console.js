// The operator console's entry point: sign-in, then wiring the board, map, detail, create panel
// and journal check to the API and the live feed.
import { t, translatePage, toggleLanguage, onLanguageChange } from './i18n.js';
import { Api, loadSession, clearSession, checkToken } from './api.js';
import { showSignIn } from './signin.js';
import { LiveFeed } from './live.js';
import { Board } from './board.js';
import { MapPanel } from './map.js';
import { Detail } from './detail.js';
import { CreatePanel } from './create.js';
import { el, ms } from './format.js';

const $ = (sel) => document.querySelector(sel);
const crewPollMs = 10000;

// Offset between the server's clock and this browser's, from /api/v1/crews' at_ms, so the
// target clocks count against server time (the timestamps they compare with are the server's).
let clockOffsetMs = 0;
const now = () => Date.now() + clockOffsetMs;

function message(text, isError = false) {
  const box = $('#messages');
  const line = el('div', { class: isError ? 'error' : 'info' }, text);
  box.prepend(line);
  while (box.children.length > 5) box.lastChild.remove();
  setTimeout(() => line.remove(), isError ? 15000 : 6000);
}

// The server says whose token it is and what it may do: 401 means refused. The console only
// hides what the role may not do; the server enforces it.
async function signIn(token) {
  const { session, refused } = await checkToken(token);
  if (!session) {
    showSignIn(refused ? t('signin.refused') : t('signin.unreachable'));
    return;
  }
  start(session);
}

let running = null;

function start(session) {
  const api = new Api(session.token);
  api.onUnauthorized = () => stop(t('error.unauthorized'));
  $('#signin').hidden = true;
  $('#app').hidden = false;
  document.body.dataset.role = session.role;
  $('#who').textContent = t(`role.${session.role}`);

  const detail = new Detail($('#detail'), { api, role: session.role, now, onMessage: message });
  const select = (id) => {
    board.select(id);
    map.select(id);
    detail.show(id);
  };
  const map = new MapPanel($('#map'), { onSelect: select, legend: document.querySelector('.map-panel .legend') });
  const board = new Board($('#board'), { onSelect: select, now });
  board.subscribe((list) => map.setIncidents(list));
  const create = new CreatePanel($('#create'), {
    api, role: session.role, onMessage: message,
    onCreated: (id) => select(String(id)),
  });

  const feed = new LiveFeed(api.liveUrl(), {
    onReset: () => board.reset(),
    onUpdate: (u) => {
      board.apply(u);
      if (u.incident && String(u.incident.id) === detail.id) detail.refresh();
    },
    onStatus: (state, s) => {
      const tag = $('#live');
      tag.dataset.state = state;
      tag.textContent = t(state === 'lost' ? 'live.lost' : `live.${state}`, { s });
    },
  });
  feed.start();

  const pollCrews = async () => {
    try {
      const r = await api.crews();
      if (r.at_ms) clockOffsetMs = ms(r.at_ms) - Date.now();
      map.setCrews(r.crews);
    } catch {
      // The live feed's status already tells the operator when the server is gone.
    }
  };
  pollCrews();
  api.districts().then((r) => map.setDistricts(r.districts)).catch(() => {
    // Without outlines the map still shows incidents and crews.
  });
  const crewTimer = setInterval(pollCrews, crewPollMs);
  const ticker = setInterval(() => {
    board.tick();
    detail.tick();
  }, 1000);

  const verifyButton = $('#verify-run');
  verifyButton.onclick = () => verify(api);
  // Auditors come to check the record: run the check as soon as they sign in.
  if (session.role === 'auditor') verify(api);
  else $('#verify-status').textContent = '';

  running = {
    stop() {
      feed.stop();
      clearInterval(crewTimer);
      clearInterval(ticker);
    },
    rerender() {
      board.render();
      detail.render();
      create.render();
      map.draw();
      $('#who').textContent = t(`role.${session.role}`);
    },
  };
}

async function verify(api) {
  const out = $('#verify-status');
  out.dataset.state = 'running';
  out.textContent = t('verify.running');
  try {
    const r = await api.verify();
    out.dataset.state = r.ok ? 'ok' : 'bad';
    out.textContent = r.ok
      ? t('verify.ok', { n: r.records_checked || 0, c: r.checkpoints_checked || 0, seq: r.last_seq || 0 })
      : t('verify.bad', { seq: r.first_bad_seq, failure: r.failure, reason: r.reason });
  } catch (e) {
    out.dataset.state = 'bad';
    out.textContent = `${e.code || ''} ${e.message}`;
  }
}

function stop(reason) {
  if (running) running.stop();
  running = null;
  clearSession();
  showSignIn(reason);
}

translatePage();
$('#lang').onclick = toggleLanguage;
onLanguageChange(() => running?.rerender());
$('#signout').onclick = () => stop('');
$('#signin-form').onsubmit = (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  signIn(String(f.get('token')).trim());
};

const saved = loadSession();
if (saved) signIn(saved.token);
else showSignIn('');
