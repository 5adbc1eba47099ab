// The console's HTTP client: one place that adds the token and turns error bodies into exceptions.

const sessionKey = 'rescue.console.session';

// sessionStorage: a console token should not outlive the browser tab it was typed into.
export function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(sessionKey) || 'null');
    return s && s.token ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(session) {
  sessionStorage.setItem(sessionKey, JSON.stringify(session));
}

export function clearSession() {
  sessionStorage.removeItem(sessionKey);
}

// Asks the server whose token it is (GET /api/v1/session) and keeps the session for this tab:
// { session } when accepted, { refused: true } on 401, { unreachable: true } otherwise.
export async function checkToken(token) {
  try {
    const answer = await new Api(token).session();
    const session = { token, role: answer.role === 'operator' ? 'operator' : 'auditor' };
    saveSession(session);
    return { session };
  } catch (e) {
    return e.status === 401 ? { refused: true } : { unreachable: true };
  }
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor(token) {
    this.token = token;
    // Set by the console: called on 401 so a revoked token sends the user back to sign-in.
    this.onUnauthorized = null;
  }

  async request(method, path, body) {
    return (await this.exchange(method, path, body)).json;
  }

  // The status as well as the body: POST /incidents says 201 for a new incident, 200 for a merge.
  async exchange(method, path, body) {
    const init = { method, headers: { Authorization: `Bearer ${this.token}` } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'network', e.message);
    }
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!response.ok) {
      const err = new ApiError(response.status, json?.code, json?.message);
      if (response.status === 401 && this.onUnauthorized) this.onUnauthorized(err);
      throw err;
    }
    return { status: response.status, json };
  }

  get(path) {
    return this.request('GET', path);
  }

  post(path, body = {}) {
    return this.request('POST', path, body);
  }

  session() {
    return this.request('GET', '/api/v1/session');
  }

  incidents() {
    return this.get('/api/v1/incidents');
  }

  incident(id) {
    return this.get(`/api/v1/incidents/${encodeURIComponent(id)}`);
  }

  elevator(code) {
    return this.get(`/api/v1/elevators/${encodeURIComponent(code)}`);
  }

  crews() {
    return this.get('/api/v1/crews');
  }

  districts() {
    return this.get('/api/v1/districts');
  }

  verify() {
    return this.get('/api/v1/journal/verify');
  }

  async create(body) {
    const { status, json } = await this.exchange('POST', '/api/v1/incidents', body);
    return { ...json, merged: status === 200 };
  }

  command(id, action, body) {
    return this.post(`/api/v1/incidents/${encodeURIComponent(id)}/${action}`, body);
  }

  liveUrl() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    return `${scheme}://${location.host}/api/v1/live?token=${encodeURIComponent(this.token)}`;
  }
}
