// Starts a real rescue-dispatchd for the browser tests: a temporary config derived from the
// shipped sample (so new keys there are picked up), free ports, files in a temporary folder.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const repoRoot = path.resolve(__dirname, '..', '..');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Rewrites `key = value` lines of the sample config, table by table. Every [storage] *_path goes
// into the temporary folder, whatever new files the server learns to keep.
function deriveConfig(sample, { dir, httpPort, terminalPort }) {
  const q = (s) => JSON.stringify(s);
  const set = {
    server: {
      listen_address: q('127.0.0.1'),
      http_port: String(httpPort),
      terminal_port: String(terminalPort),
      web_root: q(path.join(repoRoot, 'web')),
    },
    registry: { dir: q(path.join(repoRoot, 'tests', 'data', 'chongqing-sample')) },
    log: { level: q('info') },
  };
  let table = '';
  return sample.split('\n').map((line) => {
    const header = line.match(/^\s*\[([\w.]+)\]\s*$/);
    if (header) {
      table = header[1];
      return line;
    }
    const kv = line.match(/^(\s*)([A-Za-z0-9_]+)(\s*=\s*)("[^"]*"|[^#\s]+)(.*)$/);
    if (!kv) return line;
    const [, indent, key, eq, value, rest] = kv;
    if (set[table] && key in set[table]) return `${indent}${key}${eq}${set[table][key]}${rest}`;
    if (table === 'storage' && key.endsWith('_path')) {
      const base = path.basename(JSON.parse(value));
      return `${indent}${key}${eq}${q(path.join(dir, base))}${rest}`;
    }
    return line;
  }).join('\n');
}

async function waitForHealth(base, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`rescue-dispatchd exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return r.json();
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`rescue-dispatchd not healthy after ${timeoutMs} ms: ${last}`);
}

// Returns {base, config, dir, stop(), crewToken(id), log()}.
async function startServer({ daemon, rescuectl, workDir }) {
  const dir = fs.mkdtempSync(path.join(workDir || os.tmpdir(), 'rescue-browser-'));
  const httpPort = await freePort();
  let terminalPort = await freePort();
  while (terminalPort === httpPort) terminalPort = await freePort();
  const sample = fs.readFileSync(path.join(repoRoot, 'deploy', 'rescue-dispatchd.toml'), 'utf8');
  const config = path.join(dir, 'rescue-dispatchd.toml');
  fs.writeFileSync(config, deriveConfig(sample, { dir, httpPort, terminalPort }));

  const logFile = path.join(dir, 'server.log');
  const out = fs.openSync(logFile, 'a');
  const child = spawn(daemon, ['--config', config], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const base = `http://127.0.0.1:${httpPort}`;
  await waitForHealth(base, child, 20000);

  return {
    base,
    config,
    dir,
    crewToken(id) {
      return execFileSync(rescuectl, ['crew-token', id, '--config', config], { encoding: 'utf8' }).trim();
    },
    log() {
      return fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
    },
    // SIGTERM first (graceful shutdown), SIGKILL if it hangs: the test must never leave it behind.
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

module.exports = { startServer, deriveConfig, repoRoot };
