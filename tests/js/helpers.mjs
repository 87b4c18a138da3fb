// Shared helpers for the end-to-end tests of the e2e_server binary.
//
// - startServer() spawns the server (E2E_SERVER_BIN, PORT=0) and waits for its
//   "listening on http://127.0.0.1:<port>" line.
// - useServer() wires a per-file server into node:test hooks, closes every
//   client socket after each test and kills the server(s) in `after`.
// - connect()/createSocket() create tracked socket.io-client sockets for one of
//   the three transport modes (MODES).
// - Recorder buffers every incoming event so tests can await events without
//   racing against their arrival.
// - useConformanceServer(), rawRequest(), RawWs, PollingClient and the sio*
//   helpers drive the conformance server (CONFORMANCE_BIN) at the wire level,
//   for the protocol-*.test.mjs files.
// - relay() puts a TCP relay in front of a server, to cut the network under its
//   clients (connection state recovery tests).

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, afterEach, before, describe } from 'node:test';
import { io, Manager } from 'socket.io-client';
import { WebSocket } from 'ws';

export { io, Manager };

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SERVER_BIN =
  process.env.E2E_SERVER_BIN || path.resolve(HERE, '../../target/debug/e2e_server');
export const VERBOSE = Boolean(process.env.E2E_VERBOSE);

/** Per-test timeout (node:test `timeout` option). */
export const TEST_TIMEOUT = 10_000;
/** Default time to wait for one expected event / ack. */
export const WAIT_TIMEOUT = 5_000;
/** Options object to pass to `it(name, T, fn)`. */
export const T = Object.freeze({ timeout: TEST_TIMEOUT });

const SERVER_START_TIMEOUT = 15_000;
const SERVER_STOP_GRACE = 3_000;
const LISTENING_RE = /listening on http:\/\/127\.0\.0\.1:(\d+)/;
const STDERR_TAIL = 16 * 1024;

// ---------------------------------------------------------------------------
// Transport modes
// ---------------------------------------------------------------------------

export const MODES = Object.freeze([
  Object.freeze({ name: 'websocket', opts: { transports: ['websocket'] }, upgrade: false }),
  Object.freeze({ name: 'polling', opts: { transports: ['polling'] }, upgrade: false }),
  // default transports: starts with HTTP long-polling, then upgrades to WebSocket
  Object.freeze({ name: 'upgrade', opts: {}, upgrade: true }),
]);

/** Transport the engine must end up on in a given mode. */
export function finalTransport(mode) {
  return mode.upgrade ? 'websocket' : mode.opts.transports[0];
}

/**
 * Runs `fn(mode)` inside one `describe` block per transport mode.
 * E2E_MODES=websocket,polling (comma separated) restricts the modes, for debugging.
 */
export function forEachMode(fn, modes = MODES) {
  const only = process.env.E2E_MODES
    ? new Set(process.env.E2E_MODES.split(',').map((s) => s.trim()).filter(Boolean))
    : null;
  for (const mode of modes) {
    if (only && !only.has(mode.name)) continue;
    describe(`[${mode.name}]`, () => fn(mode));
  }
}

// ---------------------------------------------------------------------------
// Small async utilities
// ---------------------------------------------------------------------------

/** Marks a promise as handled (so an abandoned one never becomes an unhandled rejection) and returns it. */
function handled(p) {
  p.catch(() => {});
  return p;
}

/**
 * Races `promise` against a timer. `onSettle` runs once, whatever the outcome
 * (used to detach listeners). The returned promise never causes an unhandled
 * rejection if abandoned, but still rejects for whoever awaits it.
 */
export function withTimeout(promise, ms, label, onSettle) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return handled(
    Promise.race([promise, timeout]).finally(() => {
      clearTimeout(timer);
      if (onSettle) onSettle();
    }),
  );
}

/** Plain delay. Only for negative assertions ("nothing happens"), never to wait for something that can be awaited. */
export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Resolves with the argument array of the next `event` emitted by `emitter`
 * (optionally the next one accepted by `filter`), or rejects after `timeout`.
 */
export function waitEvent(emitter, event, { timeout = WAIT_TIMEOUT, filter } = {}) {
  let handler;
  const p = new Promise((resolve) => {
    handler = (...args) => {
      if (filter && !filter(...args)) return;
      resolve(args);
    };
    emitter.on(event, handler);
  });
  return withTimeout(p, timeout, `'${event}'`, () => emitter.off(event, handler));
}

/**
 * Resolves on 'connect' (at once if the socket is already connected), rejects
 * with the error on 'connect_error' (or on timeout).
 */
export function waitConnect(socket, { timeout = WAIT_TIMEOUT } = {}) {
  if (socket.connected) return Promise.resolve(socket);
  let onConnect;
  let onError;
  const p = new Promise((resolve, reject) => {
    onConnect = () => resolve(socket);
    onError = (err) => {
      const e = new Error(`connect_error on ${socket.nsp}: ${err && err.message}`);
      e.cause = err;
      reject(e);
    };
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
  return withTimeout(p, timeout, `'connect' on ${socket.nsp}`, () => {
    socket.off('connect', onConnect);
    socket.off('connect_error', onError);
  });
}

/**
 * Emits `event` with `args` and an acknowledgement callback; resolves with the
 * array of arguments the server acknowledged with. Rejects on timeout or when
 * the socket gets disconnected before the ack.
 */
export function emitAckWithin(socket, timeout, event, ...args) {
  return handled(
    new Promise((resolve, reject) => {
      socket.timeout(timeout).emit(event, ...args, (err, ...response) => {
        if (err) reject(new Error(`no ack for '${event}' on ${socket.nsp} (${err.message}, ${timeout} ms)`));
        else resolve(response);
      });
    }),
  );
}

/** emitAckWithin() with the default timeout. */
export function emitAck(socket, event, ...args) {
  return emitAckWithin(socket, WAIT_TIMEOUT, event, ...args);
}

/**
 * Round trip ("echo" with ack) on each given client. Because the server handles
 * a socket's packets in order and writes to one connection in order, anything
 * the server queued for that connection before it handled the barrier has been
 * received once this resolves. Used before asserting that something did NOT
 * arrive.
 */
export async function barrier(...clients) {
  await Promise.all(
    clients.map(async (c) => {
      const socket = c.socket ?? c;
      const res = await emitAck(socket, 'echo', '__barrier__');
      assert.deepEqual(res, ['__barrier__'], 'barrier echo');
    }),
  );
}

let uidCounter = 0;
/** Unique ASCII name (room, event, ...) so that tests sharing a server never interfere. */
export function uid(prefix = 'x') {
  uidCounter += 1;
  return `${prefix}-${uidCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Byte-wise (UTF-8) string order, i.e. the order of Rust's `str::cmp` / `sort()`. */
export function byteCompare(a, b) {
  return Buffer.compare(Buffer.from(String(a), 'utf8'), Buffer.from(String(b), 'utf8'));
}

/** Sorted copy of an array of strings, in byte order. */
export function sorted(strings) {
  return [...strings].sort(byteCompare);
}

// ---------------------------------------------------------------------------
// Binary helpers
// ---------------------------------------------------------------------------

/** Buffer view of any binary value (Buffer, ArrayBuffer, TypedArray, DataView), else null. */
export function toBuffer(x) {
  if (Buffer.isBuffer(x)) return x;
  if (x instanceof ArrayBuffer) return Buffer.from(x);
  if (ArrayBuffer.isView(x)) return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  return null;
}

/** Deep copy where every binary value is turned into a plain Buffer, for deepStrictEqual. */
export function normalizeBinary(value) {
  const buf = toBuffer(value);
  if (buf) return Buffer.from(buf);
  if (Array.isArray(value)) return value.map(normalizeBinary);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalizeBinary(v)]));
  }
  return value;
}

/** deepStrictEqual that treats Buffer / Uint8Array / ArrayBuffer with the same bytes as equal. */
export function assertDeepEqualBinary(actual, expected, message) {
  assert.deepStrictEqual(normalizeBinary(actual), normalizeBinary(expected), message);
}

// ---------------------------------------------------------------------------
// Recorder: buffers incoming events of a socket
// ---------------------------------------------------------------------------

export class Recorder {
  constructor(socket) {
    this.socket = socket;
    /** every received event, in order: { event, args } (args may end with an ack function) */
    this.log = [];
    this._unconsumed = new Map(); // event -> [args]
    this._waiters = new Map(); // event -> [resolve]
    socket.onAny((event, ...args) => this._push(event, args));
  }

  _push(event, args) {
    this.log.push({ event, args });
    const waiters = this._waiters.get(event);
    if (waiters && waiters.length) {
      waiters.shift()(args);
      return;
    }
    let queue = this._unconsumed.get(event);
    if (!queue) this._unconsumed.set(event, (queue = []));
    queue.push(args);
  }

  /** Next not yet taken occurrence of `event` (already received or future): its argument array. */
  take(event, { timeout = WAIT_TIMEOUT } = {}) {
    const queue = this._unconsumed.get(event);
    if (queue && queue.length) return Promise.resolve(queue.shift());
    let resolver;
    const p = new Promise((resolve) => {
      resolver = resolve;
      let waiters = this._waiters.get(event);
      if (!waiters) this._waiters.set(event, (waiters = []));
      waiters.push(resolve);
    });
    return withTimeout(p, timeout, `event '${event}' on ${this.socket.nsp}`, () => {
      const waiters = this._waiters.get(event);
      const i = waiters ? waiters.indexOf(resolver) : -1;
      if (i >= 0) waiters.splice(i, 1);
    });
  }

  /** First argument of the next occurrence of `event`. */
  async take1(event, opts) {
    const args = await this.take(event, opts);
    return args[0];
  }

  /** All occurrences of `event` received so far (argument arrays), taken or not. */
  all(event) {
    return this.log.filter((e) => e.event === event).map((e) => e.args);
  }

  /** Number of occurrences of `event` received so far. */
  count(event) {
    return this.log.reduce((n, e) => n + (e.event === event ? 1 : 0), 0);
  }
}

// ---------------------------------------------------------------------------
// Client sockets (tracked, closed after every test)
// ---------------------------------------------------------------------------

const trackedSockets = new Set();
const trackedManagers = new Set();
const upgradeWatches = new WeakMap(); // engine -> Promise<transport name>

function trackManager(manager) {
  trackedManagers.add(manager);
  if (manager.engine) watchUpgrade(manager.engine);
  // a reconnecting manager creates a new engine: watch that one too
  manager.on('open', () => watchUpgrade(manager.engine));
  return manager;
}

function trackSocket(socket) {
  trackedSockets.add(socket);
  trackManager(socket.io);
  return socket;
}

function watchUpgrade(engine) {
  if (!engine) return null;
  let p = upgradeWatches.get(engine);
  if (p) return p;
  const initial = engine.transport ? engine.transport.name : undefined;
  p = handled(
    new Promise((resolve, reject) => {
      engine.on('upgrade', (transport) => resolve(transport.name));
      engine.on('upgradeError', (err) => reject(new Error(`transport upgrade failed: ${err && err.message}`)));
      engine.on('close', (reason) => reject(new Error(`engine closed before any upgrade (${reason})`)));
    }),
  );
  p.initialTransport = initial;
  upgradeWatches.set(engine, p);
  return p;
}

/**
 * Asserts that the manager's engine emitted 'upgrade' (waiting for it if needed)
 * and that its transport is 'websocket' afterwards.
 */
export async function expectUpgraded(manager, { timeout = WAIT_TIMEOUT } = {}) {
  const engine = manager.engine;
  assert.ok(engine, 'manager has an engine');
  const watch = upgradeWatches.get(engine);
  assert.ok(watch, 'engine was watched from its creation');
  assert.equal(watch.initialTransport, 'polling', 'the engine started on polling');
  const name = await withTimeout(watch, timeout, "engine 'upgrade' event");
  assert.equal(name, 'websocket', "'upgrade' event reports the websocket transport");
  assert.equal(manager.engine, engine, 'engine unchanged by the upgrade');
  assert.equal(engine.transport.name, 'websocket', 'engine transport after the upgrade event');
}

/** Whether an 'upgrade' event has been seen on the manager's current engine (false if pending/failed). */
export async function upgradeSeen(manager) {
  const watch = upgradeWatches.get(manager.engine);
  if (!watch) return false;
  const sentinel = Symbol('pending');
  const r = await Promise.race([watch.catch(() => false), Promise.resolve(sentinel)]);
  return r !== sentinel && r !== false;
}

function clientOptions(mode, { auth, query, opts } = {}) {
  const o = { forceNew: true, reconnection: false, ...mode.opts, ...(opts || {}) };
  if (auth !== undefined) o.auth = auth;
  if (query !== undefined) o.query = query;
  return o;
}

function serverUrl(server) {
  const url = server && server.url;
  assert.ok(url, 'server is running (did its `before` hook fail?)');
  // fail fast (instead of timing out) when the server process died
  const proc = server.server || server;
  if (proc.exit && !proc.killedByUs) proc.health();
  return url;
}

/**
 * Creates (and starts connecting) a tracked socket on its own Manager.
 * options: { nsp = '/', auth, query, opts } (opts: extra socket.io-client options,
 * e.g. { reconnection: true }).
 */
export function createSocket(server, mode, options = {}) {
  const { nsp = '/' } = options;
  const socket = io(serverUrl(server) + nsp, clientOptions(mode, options));
  return trackSocket(socket);
}

/** A tracked Manager (for multiplexing several namespaces over one connection). */
export function createManager(server, mode, options = {}) {
  return trackManager(new Manager(serverUrl(server), clientOptions(mode, options)));
}

/** A tracked socket of `manager` for namespace `nsp`. */
export function managerSocket(manager, nsp = '/', { auth } = {}) {
  const socket = manager.socket(nsp, auth !== undefined ? { auth } : {});
  trackedSockets.add(socket);
  return socket;
}

/**
 * Waits until a socket (with its Recorder) is ready:
 * connected, its "welcome" received on "/" (stored as client.welcome), and in
 * upgrade mode the engine upgraded to websocket (unless waitUpgrade is false).
 */
export async function ready(socket, rec, mode, { welcome = socket.nsp === '/', waitUpgrade = true } = {}) {
  await waitConnect(socket);
  const client = { socket, rec, id: socket.id, welcome: undefined };
  if (welcome) {
    const [w] = await rec.take('welcome');
    client.welcome = w;
  }
  if (mode.upgrade && waitUpgrade) await expectUpgraded(socket.io);
  return client;
}

/**
 * Connects a new tracked socket on its own Manager and waits until it is ready
 * (see ready()). Returns { socket, rec, id, welcome }.
 * options: { nsp, auth, query, opts, welcome, waitUpgrade }
 */
export async function connect(server, mode, options = {}) {
  const socket = createSocket(server, mode, options);
  const rec = new Recorder(socket);
  return ready(socket, rec, mode, options);
}

/** connect() n times. */
export function connectMany(server, mode, n, options = {}) {
  return Promise.all(Array.from({ length: n }, () => connect(server, mode, options)));
}

/** Closes every socket / manager created through these helpers. */
export function closeAllClients() {
  for (const socket of trackedSockets) {
    try {
      socket.disconnect();
    } catch {
      /* ignore */
    }
  }
  for (const manager of trackedManagers) {
    try {
      manager._close(); // stops reconnection and closes the engine
    } catch {
      /* ignore */
    }
    try {
      if (manager.engine) manager.engine.close();
    } catch {
      /* ignore */
    }
  }
  trackedSockets.clear();
  trackedManagers.clear();
}

// ---------------------------------------------------------------------------
// Server process
// ---------------------------------------------------------------------------

const liveServers = new Set();
const ephemeralServers = new Set();

process.on('exit', () => {
  for (const s of liveServers) {
    try {
      s.child.kill('SIGKILL');
    } catch {
      /* ignore */
    }
  }
});

/**
 * Spawns the server binary (`bin`, default SERVER_BIN) with PORT=0 (plus `env`) and resolves with
 * { url, port, child, kill(), health() } once it printed its listening line.
 */
export function startServer({ env = {}, timeout = SERVER_START_TIMEOUT, bin = SERVER_BIN } = {}) {
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(bin, [], {
        env: { ...process.env, PORT: '0', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      reject(new Error(`cannot spawn ${bin}: ${err.message}`));
      return;
    }

    const server = {
      child,
      url: null,
      port: null,
      exit: null, // { code, signal } once exited
      killedByUs: false,
      panicked: false,
      stderrTail: '',
      exited: null, // Promise
      kill: null,
      health: null,
    };
    let started = false;

    server.exited = new Promise((res) => {
      child.once('exit', (code, signal) => {
        server.exit = { code, signal };
        liveServers.delete(server);
        res(server.exit);
      });
    });

    const fail = (msg) => {
      if (started) return;
      started = true;
      clearTimeout(timer);
      try {
        child.kill('SIGKILL');
      } catch {
        /* ignore */
      }
      const tail = server.stderrTail ? `\n--- server stderr (tail) ---\n${server.stderrTail}` : '';
      reject(new Error(`${msg}${tail}`));
    };

    const timer = setTimeout(
      () => fail(`server ${bin} did not print "listening on http://127.0.0.1:<port>" within ${timeout} ms`),
      timeout,
    );

    child.on('error', (err) => fail(`cannot start server ${bin}: ${err.message} (build it or set ${bin === SERVER_BIN ? 'E2E_SERVER_BIN' : 'CONFORMANCE_BIN'})`));
    child.once('exit', (code, signal) => fail(`server exited before listening (code ${code}, signal ${signal})`));

    let panicCarry = '';
    child.stderr.on('data', (chunk) => {
      if (VERBOSE) process.stderr.write(chunk);
      const text = chunk.toString('utf8');
      server.stderrTail = (server.stderrTail + text).slice(-STDERR_TAIL);
      const probe = panicCarry + text;
      if (probe.includes('panicked at')) server.panicked = true;
      panicCarry = probe.slice(-32);
    });

    let stdoutBuf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      if (started) {
        // keep draining stdout so the server never blocks on a full pipe
        if (VERBOSE) process.stderr.write(chunk);
        return;
      }
      stdoutBuf += chunk;
      let nl;
      while ((nl = stdoutBuf.indexOf('\n')) >= 0) {
        const line = stdoutBuf.slice(0, nl).replace(/\r$/, '');
        stdoutBuf = stdoutBuf.slice(nl + 1);
        if (VERBOSE) process.stderr.write(`[server stdout] ${line}\n`);
        const m = LISTENING_RE.exec(line);
        if (m && !started) {
          started = true;
          clearTimeout(timer);
          server.port = Number(m[1]);
          server.url = `http://127.0.0.1:${server.port}`;
          liveServers.add(server);
          resolve(server);
          return;
        }
      }
    });

    server.kill = async () => {
      if (server.exit) return server.exit;
      server.killedByUs = true;
      child.kill('SIGTERM');
      let t;
      const graceful = await Promise.race([
        server.exited,
        new Promise((res) => {
          t = setTimeout(() => res(null), SERVER_STOP_GRACE);
        }),
      ]);
      clearTimeout(t);
      if (graceful) return graceful;
      child.kill('SIGKILL');
      return server.exited;
    };

    /** Throws if the server crashed (exited on its own) or printed a Rust panic. */
    server.health = () => {
      const tail = `\n--- server stderr (tail) ---\n${server.stderrTail}`;
      if (server.exit && !server.killedByUs) {
        throw new Error(`server exited unexpectedly (code ${server.exit.code}, signal ${server.exit.signal})${tail}`);
      }
      if (server.panicked) throw new Error(`server printed a panic${tail}`);
    };
  });
}

/**
 * A server started for the current test only (for tests that need a namespace
 * with no foreign sockets); killed after the test by useServer's afterEach.
 */
export async function freshServer(env = {}) {
  const server = await startServer({ env });
  ephemeralServers.add(server);
  return server;
}

async function stopServer(server) {
  await server.kill();
  server.health();
}

/**
 * Registers hooks for the current file/suite: starts one server before the
 * tests, closes all clients (and per-test servers) after each test, kills the
 * server after the tests. Returns a handle whose url/port are set once started.
 */
export function useServer(env = {}) {
  const handle = {
    server: null,
    get url() {
      return this.server && this.server.url;
    },
    get port() {
      return this.server && this.server.port;
    },
  };
  before(
    async () => {
      handle.server = await startServer({ env });
    },
    { timeout: SERVER_START_TIMEOUT + 5_000 },
  );
  afterEach(
    async () => {
      closeAllClients();
      const servers = [...ephemeralServers];
      ephemeralServers.clear();
      for (const s of servers) await stopServer(s);
    },
    { timeout: SERVER_STOP_GRACE * 2 + 2_000 },
  );
  after(
    async () => {
      closeAllClients();
      const errors = [];
      for (const s of [...ephemeralServers, handle.server].filter(Boolean)) {
        try {
          await stopServer(s);
        } catch (err) {
          errors.push(err);
        }
      }
      ephemeralServers.clear();
      if (errors.length) throw errors[0];
    },
    { timeout: SERVER_STOP_GRACE * 2 + 2_000 },
  );
  return handle;
}

// ---------------------------------------------------------------------------
// Raw wire-level clients for the conformance server (protocol-*.test.mjs)
// ---------------------------------------------------------------------------

/** The protocol conformance server (examples/conformance.rs). */
export const CONFORMANCE_BIN =
  process.env.CONFORMANCE_BIN || path.resolve(HERE, '../../target/debug/examples/conformance');

/** The conformance server's fixed settings (ms / bytes). */
export const CONFORMANCE = Object.freeze({
  pingInterval: 300,
  pingTimeout: 200,
  connectTimeout: 1000,
  maxPayload: 1_000_000,
});

/** Engine.IO v4 record separator between the packets of a polling payload. */
export const SEP = '\x1e';

/** Raw clients (requests, websockets, pollers) destroyed after every test. */
const rawResources = new Set();

function trackRaw(resource) {
  rawResources.add(resource);
  return resource;
}

/** Destroys every raw request / websocket / polling client still open. */
export function closeRawClients() {
  for (const r of [...rawResources]) {
    try {
      r.destroy();
    } catch {
      /* ignore */
    }
  }
  rawResources.clear();
}

/**
 * useServer() for the conformance server: starts CONFORMANCE_BIN once for the
 * file, destroys the raw clients after each test, and fails at the end of the
 * file if the server crashed or printed a panic.
 */
export function useConformanceServer(env = {}) {
  const handle = {
    server: null,
    get url() {
      return this.server && this.server.url;
    },
    get port() {
      return this.server && this.server.port;
    },
  };
  before(
    async () => {
      handle.server = await startServer({ env, bin: CONFORMANCE_BIN });
    },
    { timeout: SERVER_START_TIMEOUT + 5_000 },
  );
  afterEach(() => {
    closeRawClients();
    closeAllClients();
  });
  after(
    async () => {
      closeRawClients();
      closeAllClients();
      if (handle.server) await stopServer(handle.server);
    },
    { timeout: SERVER_STOP_GRACE * 2 + 2_000 },
  );
  return handle;
}

/**
 * Absolute http:// URL of an Engine.IO endpoint of `server` (e.g. path '/engine.io/').
 * `params` become the query string, EIO=4 unless given (EIO: undefined omits it);
 * params whose value is undefined are left out.
 */
export function eioUrl(server, pathname, params = {}) {
  const url = new URL(pathname, serverUrl(server));
  for (const [k, v] of Object.entries({ EIO: '4', ...params })) {
    if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
  }
  return url.toString();
}

/** eioUrl() with the ws:// scheme and transport=websocket unless given. */
export function eioWsUrl(server, pathname, params = {}) {
  return eioUrl(server, pathname, { transport: 'websocket', ...params }).replace(/^http:/, 'ws:');
}

/**
 * One HTTP request on its own connection (no keep-alive, so concurrent requests
 * never share a socket). Resolves with { status, headers, body (Buffer), text }.
 * Rejects on a network error (the error keeps its `code`, e.g. ECONNRESET), when
 * the response is cut short, or after `timeout` ms.
 * `body`: string (sent as text/plain;charset=UTF-8 unless headers say otherwise) or Buffer.
 */
export function rawRequest(url, { method = 'GET', body, headers = {}, timeout = WAIT_TIMEOUT } = {}) {
  let req;
  const h = { ...headers };
  if (body !== undefined) {
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(String(body), 'utf8');
    body = buf;
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
      h['Content-Type'] = 'text/plain;charset=UTF-8';
    }
    h['Content-Length'] = String(buf.length);
  }
  const p = new Promise((resolve, reject) => {
    req = http.request(url, { method, headers: h, agent: false }, (res) => {
      const chunks = [];
      let ended = false;
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        ended = true;
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: buf, text: buf.toString('utf8') });
      });
      res.on('error', reject);
      res.on('close', () => {
        if (!ended) reject(Object.assign(new Error(`${method} ${url}: response cut short`), { code: 'ECUTSHORT' }));
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
  const resource = trackRaw({ destroy: () => req.destroy() });
  return withTimeout(p, timeout, `${method} ${url}`, () => rawResources.delete(resource));
}

/** Asserts an engine-level JSON error answer: status, application/json, exact body. */
export function assertEngineError(res, status, code, message) {
  assert.equal(res.status, status, `status of ${JSON.stringify(res.text)}`);
  assert.match(String(res.headers['content-type']), /^application\/json\b/, 'content-type');
  assert.deepStrictEqual(JSON.parse(res.text), { code, message });
  assert.equal(res.text, JSON.stringify({ code, message }), 'exact JSON body');
}

/** Encodes an Engine.IO v4 polling payload: strings as they are, Buffers as b<base64>. */
export function encodePayload(packets) {
  return packets.map((p) => (Buffer.isBuffer(p) ? `b${p.toString('base64')}` : p)).join(SEP);
}

/** Decodes an Engine.IO v4 polling payload: text packets as strings, b<base64> as Buffers. */
export function decodePayload(text) {
  return text.split(SEP).map((p) => (p.startsWith('b') ? Buffer.from(p.slice(1), 'base64') : p));
}

/** Parses an Engine.IO open packet ("0{...}") and checks its exact key set. */
export function parseOpenPacket(text) {
  assert.equal(typeof text, 'string', 'the open packet is text');
  assert.equal(text[0], '0', `open packet type in ${JSON.stringify(text)}`);
  const open = JSON.parse(text.slice(1));
  assert.deepStrictEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
  assert.equal(typeof open.sid, 'string');
  assert.ok(open.sid.length > 0, 'non-empty sid');
  return open;
}

/** A polling handshake on `pathname`: resolves with { res, open, sid }. */
export async function pollingHandshake(server, pathname) {
  const res = await rawRequest(eioUrl(server, pathname, { transport: 'polling' }));
  assert.equal(res.status, 200, `handshake status (${res.text})`);
  const open = parseOpenPacket(res.text);
  return { res, open, sid: open.sid };
}

/**
 * A raw `ws` WebSocket with a message queue. Text frames are queued as strings,
 * binary frames as Buffers. With `autoPong`, every Engine.IO ping "2" is answered
 * with "3" at once and not queued (counted in `pings`).
 */
export class RawWs {
  constructor(url, { autoPong = false, headers } = {}) {
    this.url = url;
    this.autoPong = autoPong;
    this.pings = 0;
    this.queue = [];
    this.waiters = [];
    this.closeInfo = null;
    this.openedAt = null;
    this.ws = new WebSocket(url, { headers, perMessageDeflate: false });
    this.ws.binaryType = 'nodebuffer';
    trackRaw(this);
    this.opened = handled(
      new Promise((resolve, reject) => {
        this.ws.once('open', () => {
          this.openedAt = Date.now();
          resolve(this);
        });
        this.ws.on('unexpected-response', (req, res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const err = new Error(`websocket refused with HTTP ${res.statusCode}: ${text}`);
            Object.assign(err, { status: res.statusCode, headers: res.headers, text });
            reject(err);
            req.destroy();
          });
        });
        this.ws.on('error', (err) => reject(err));
      }),
    );
    this.closed = handled(
      new Promise((resolve) => {
        this.ws.once('close', (code, reason) => {
          this.closeInfo = { code, reason: reason.toString('utf8'), at: Date.now() };
          rawResources.delete(this);
          resolve(this.closeInfo);
          for (const w of this.waiters.splice(0)) w.reject(new Error(`websocket closed (code ${code})`));
        });
      }),
    );
    this.ws.on('message', (data, isBinary) => {
      const msg = isBinary ? Buffer.from(data) : data.toString('utf8');
      if (this.autoPong && msg === '2') {
        this.pings += 1;
        this.send('3');
        return;
      }
      const w = this.waiters.shift();
      if (w) w.resolve(msg);
      else this.queue.push(msg);
    });
  }

  /** Opens a RawWs and waits for 'open' (rejects with err.status / err.text if the upgrade is refused). */
  static open(url, opts = {}) {
    const raw = new RawWs(url, opts);
    return withTimeout(raw.opened, opts.timeout ?? WAIT_TIMEOUT, `websocket open ${url}`);
  }

  get isClosed() {
    return this.closeInfo !== null;
  }

  /** Next message (string or Buffer). skipPings drops "2" messages without answering them. */
  next({ timeout = WAIT_TIMEOUT, skipPings = false } = {}) {
    const take = () => {
      while (this.queue.length) {
        const m = this.queue.shift();
        if (skipPings && m === '2') continue;
        return { m };
      }
      return null;
    };
    const got = take();
    if (got) return Promise.resolve(got.m);
    if (this.isClosed) return handled(Promise.reject(new Error(`websocket closed (code ${this.closeInfo.code})`)));
    let waiter;
    const p = new Promise((resolve, reject) => {
      waiter = {
        resolve: (m) => {
          if (skipPings && m === '2') {
            this.waiters.unshift(waiter);
            return;
          }
          resolve(m);
        },
        reject,
      };
      this.waiters.push(waiter);
    });
    return withTimeout(p, timeout, `a websocket message on ${this.url}`, () => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
    });
  }

  /** Next message, asserted to be a text frame. */
  async nextText(opts) {
    const m = await this.next(opts);
    assert.equal(typeof m, 'string', `expected a text frame, got binary ${Buffer.isBuffer(m) ? m.toString('hex') : m}`);
    return m;
  }

  /** Sends a string as a text frame, a Buffer as a binary frame (or as a text frame with { binary: false }). */
  send(data, opts) {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(data, opts);
  }

  /** Resolves with the close info once the peer closed the websocket (rejects after `timeout`). */
  waitClosed(timeout = WAIT_TIMEOUT) {
    return withTimeout(this.closed, timeout, `websocket close of ${this.url}`);
  }

  close() {
    try {
      this.ws.close();
    } catch {
      /* ignore */
    }
  }

  destroy() {
    try {
      this.ws.terminate();
    } catch {
      /* ignore */
    }
  }
}

/**
 * A websocket attempt that may be refused: resolves with
 * { refused: { status, headers, text } } for an HTTP answer instead of 101, or
 * { ws } once open.
 */
export async function wsAttempt(url, opts = {}) {
  try {
    return { ws: await RawWs.open(url, opts) };
  } catch (err) {
    if (err.status) return { refused: { status: err.status, headers: err.headers, text: err.text } };
    throw err;
  }
}

/** Opens a direct websocket session on `pathname`: resolves with { ws, open, sid }. */
export async function wsHandshake(server, pathname, { autoPong = false } = {}) {
  const ws = await RawWs.open(eioWsUrl(server, pathname), { autoPong });
  const open = parseOpenPacket(await ws.nextText());
  return { ws, open, sid: open.sid };
}

/**
 * A polling session kept alive in the background: a loop of GETs queues every
 * received packet (strings / Buffers; noops "6" are dropped) and, with
 * autoPong, answers pings with a POST "3". POSTs are serialized (the engine
 * closes a session on overlapping POSTs). `closed` resolves with the reason:
 * { status, text } of a refused GET, { packet: '1' } or { error }.
 */
export class PollingClient {
  constructor(server, pathname, sid, { autoPong = true } = {}) {
    this.server = server;
    this.pathname = pathname;
    this.sid = sid;
    this.autoPong = autoPong;
    this.url = eioUrl(server, pathname, { transport: 'polling', sid });
    this.queue = [];
    this.waiters = [];
    this.pings = 0;
    this.closeInfo = null;
    this.stopped = false;
    this.postChain = Promise.resolve();
    let onClosed;
    this.closed = handled(new Promise((resolve) => (onClosed = resolve)));
    this._onClosed = onClosed;
    trackRaw(this);
    this.loop = this._loop();
  }

  static async open(server, pathname, opts) {
    const { open, sid } = await pollingHandshake(server, pathname);
    const client = new PollingClient(server, pathname, sid, opts);
    client.open = open;
    return client;
  }

  _finish(info) {
    if (this.closeInfo) return;
    this.closeInfo = info;
    rawResources.delete(this);
    this._onClosed(info);
    for (const w of this.waiters.splice(0)) w.reject(new Error(`polling session closed: ${JSON.stringify(info)}`));
  }

  async _loop() {
    while (!this.stopped && !this.closeInfo) {
      let res;
      try {
        res = await rawRequest(this.url, { timeout: 60_000 });
      } catch (error) {
        this._finish({ error: error.message });
        return;
      }
      if (this.stopped) return;
      if (res.status !== 200) {
        this._finish({ status: res.status, text: res.text });
        return;
      }
      for (const packet of decodePayload(res.text)) {
        if (packet === '6') continue;
        if (packet === '1') {
          this._finish({ packet: '1' });
          return;
        }
        if (packet === '2' && this.autoPong) {
          this.pings += 1;
          this.post('3').catch(() => {});
          continue;
        }
        const w = this.waiters.shift();
        if (w) w.resolve(packet);
        else this.queue.push(packet);
      }
    }
  }

  /** POSTs a payload (string, or an array of packets for encodePayload()). Resolves with the response. */
  post(body, opts) {
    const payload = Array.isArray(body) ? encodePayload(body) : body;
    const p = this.postChain.then(() => rawRequest(this.url, { method: 'POST', body: payload, ...opts }));
    this.postChain = p.catch(() => {});
    return handled(p);
  }

  /** Next received packet (string or Buffer). */
  next({ timeout = WAIT_TIMEOUT } = {}) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closeInfo) return handled(Promise.reject(new Error(`polling session closed: ${JSON.stringify(this.closeInfo)}`)));
    let waiter;
    const p = new Promise((resolve, reject) => {
      waiter = { resolve, reject };
      this.waiters.push(waiter);
    });
    return withTimeout(p, timeout, `a polling packet on ${this.url}`, () => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
    });
  }

  /** Resolves with the close info once the session ended (rejects after `timeout`). */
  waitClosed(timeout = WAIT_TIMEOUT) {
    return withTimeout(this.closed, timeout, `end of polling session ${this.sid}`);
  }

  destroy() {
    this.stopped = true;
    rawResources.delete(this);
  }
}

/** Expected open-packet values of the conformance server. */
export function assertConformanceOpen(open, upgrades) {
  assert.deepStrictEqual(open.upgrades, upgrades, 'upgrades');
  assert.equal(open.pingInterval, CONFORMANCE.pingInterval, 'pingInterval');
  assert.equal(open.pingTimeout, CONFORMANCE.pingTimeout, 'pingTimeout');
  assert.equal(open.maxPayload, CONFORMANCE.maxPayload, 'maxPayload');
}

/**
 * A Socket.IO connection over a raw websocket on /socket.io/ (answers pings):
 * opens the engine session, sends CONNECT for `nsp` (with `auth` if given), and
 * reads the CONNECT answer and the "auth" event the conformance server emits.
 * Resolves with { ws, engineSid, sid, auth }.
 */
export async function sioWsConnect(server, { nsp = '/', auth, autoPong = true } = {}) {
  const { ws, sid: engineSid } = await wsHandshake(server, '/socket.io/', { autoPong });
  const prefix = nsp === '/' ? '' : `${nsp},`;
  ws.send(`40${prefix}${auth !== undefined ? JSON.stringify(auth) : ''}`);
  const answer = await ws.nextText();
  assert.ok(answer.startsWith(`40${prefix}{`), `CONNECT answer ${JSON.stringify(answer)}`);
  const data = JSON.parse(answer.slice(2 + prefix.length));
  assert.deepStrictEqual(Object.keys(data), ['sid'], 'CONNECT answer keys');
  const authEvent = await ws.nextText();
  assert.ok(authEvent.startsWith(`42${prefix}`), `auth event ${JSON.stringify(authEvent)}`);
  const [name, received] = JSON.parse(authEvent.slice(2 + prefix.length));
  assert.equal(name, 'auth');
  return { ws, engineSid, sid: data.sid, auth: received };
}

/**
 * Healthy connections kept open next to an offending one: a websocket echo
 * session and a polling echo session on /engine.io/, and a Socket.IO socket over
 * websocket on /socket.io/. check() asserts they all still answer (echo,
 * message-back) and are still open.
 */
export async function openBystanders(server) {
  const engine = await wsHandshake(server, '/engine.io/', { autoPong: true });
  const polling = await PollingClient.open(server, '/engine.io/');
  const sio = await sioWsConnect(server);
  return {
    engine,
    polling,
    sio,
    async check() {
      assert.equal(engine.ws.isClosed, false, 'the /engine.io/ websocket bystander is still open');
      assert.equal(polling.closeInfo, null, 'the /engine.io/ polling bystander is still open');
      assert.equal(sio.ws.isClosed, false, 'the /socket.io/ bystander is still open');
      const tag = uid('alive');
      engine.ws.send(`4${tag}`);
      assert.equal(await engine.ws.next(), `4${tag}`, '/engine.io/ websocket bystander echo');
      const res = await polling.post(`4${tag}`);
      assert.equal(res.status, 200, 'polling bystander POST');
      assert.equal(await polling.next(), `4${tag}`, '/engine.io/ polling bystander echo');
      sio.ws.send(`42${JSON.stringify(['message', tag])}`);
      assert.equal(await sio.ws.next(), `42${JSON.stringify(['message-back', tag])}`, '/socket.io/ bystander message-back');
    },
  };
}

/** Throws if the server process died or panicked, then checks it still accepts a new session on both paths. */
export async function assertServerAlive(server) {
  const proc = server.server || server;
  proc.health();
  await pollingHandshake(server, '/engine.io/');
  await pollingHandshake(server, '/socket.io/');
}

// ---------------------------------------------------------------------------
// Gateway fixture (gateway-*.test.mjs) and chat example (chat.test.mjs)
// ---------------------------------------------------------------------------

/** The gateway fixture server (tests/src/bin/gateway_server.rs). */
export const GATEWAY_SERVER_BIN =
  process.env.GATEWAY_SERVER_BIN || path.resolve(HERE, '../../target/debug/gateway_server');

/** The chat example (examples/chat). */
export const CHAT_BIN = process.env.CHAT_BIN || path.resolve(HERE, '../../target/debug/examples/chat');

/**
 * Messages of every Rust panic a server printed on stderr (the line after
 * "thread '…' panicked at <location>:"), collected from the whole stderr stream.
 */
function collectPanics(server) {
  const panics = [];
  let text = '';
  server.child.stderr.on('data', (chunk) => {
    text += chunk.toString('utf8');
    const re = /panicked at [^\n]*:\n([^\n]*)\n/g;
    let m;
    let consumed = 0;
    while ((m = re.exec(text))) {
      panics.push(m[1]);
      consumed = re.lastIndex;
    }
    // keep an unfinished panic report (and a little context) for the next chunk
    text = text.slice(Math.max(consumed, text.length - 4096));
  });
  return panics;
}

/**
 * Starts `bin` (PORT=0 plus `env`) for a test and registers it like useServer's
 * per-test servers would be, but with panic bookkeeping: `server.panics` lists the
 * panic messages printed so far. Resolves with the server.
 */
export async function startBinServer({ bin, env = {} }) {
  const server = await startServer({ bin, env });
  server.panics = collectPanics(server);
  return server;
}

/**
 * Stops a server started with startBinServer and throws if it exited on its own or
 * printed a panic whose message is not in `allowedPanics`.
 */
export async function stopBinServer(server, allowedPanics = []) {
  await server.kill();
  if (server.exit && !server.killedByUs) server.health(); // throws: exited on its own
  const unexpected = (server.panics || []).filter((m) => !allowedPanics.includes(m));
  if (unexpected.length) {
    throw new Error(
      `server printed unexpected panic(s): ${JSON.stringify(unexpected)}\n--- server stderr (tail) ---\n${server.stderrTail}`,
    );
  }
}

/** Throws if a startBinServer server exited on its own or printed a panic not in `allowedPanics`. */
export function assertBinServerHealthy(server, allowedPanics = []) {
  if (server.exit && !server.killedByUs) server.health();
  const unexpected = (server.panics || []).filter((m) => !allowedPanics.includes(m));
  assert.deepStrictEqual(unexpected, [], 'unexpected server panics');
}

/**
 * useServer() for another binary: starts `bin` (with `env`) once for the current file
 * or suite, closes every client socket and raw client after each test, and at the end
 * kills the server and fails if it crashed or printed a panic whose message is not in
 * `allowedPanics` (handlers of the fixture that panic on purpose).
 * The handle also has fresh(): a server of its own for the current test, killed (and
 * checked the same way) after it.
 */
export function useBinServer({ bin, env = {}, allowedPanics = [] }) {
  const perTest = new Set();
  const handle = {
    server: null,
    get url() {
      return this.server && this.server.url;
    },
    get port() {
      return this.server && this.server.port;
    },
    /** Another server for this test; `overrides` change its env (null removes a variable). */
    async fresh(overrides = {}) {
      const merged = { ...env, ...overrides };
      for (const k of Object.keys(merged)) if (merged[k] === null) delete merged[k];
      const s = await startBinServer({ bin, env: merged });
      perTest.add(s);
      return s;
    },
  };
  before(
    async () => {
      handle.server = await startBinServer({ bin, env });
    },
    { timeout: SERVER_START_TIMEOUT + 5_000 },
  );
  afterEach(
    async () => {
      closeRawClients();
      closeAllClients();
      const servers = [...perTest];
      perTest.clear();
      for (const s of servers) await stopBinServer(s, allowedPanics);
    },
    { timeout: SERVER_STOP_GRACE * 2 + 2_000 },
  );
  after(
    async () => {
      closeRawClients();
      closeAllClients();
      if (handle.server) await stopBinServer(handle.server, allowedPanics);
    },
    { timeout: SERVER_STOP_GRACE * 2 + 2_000 },
  );
  return handle;
}

/**
 * A JSON Web Token signed by hand with HMAC (node:crypto): `alg` HS256 (default),
 * HS384 or HS512, or 'none' (unsigned: empty signature). `header` adds header fields.
 */
export function signJwt(claims, secret, { alg = 'HS256', header = {} } = {}) {
  const b64 = (value) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  const input = `${b64({ alg, typ: 'JWT', ...header })}.${b64(claims)}`;
  if (alg === 'none') return `${input}.`;
  const hashes = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };
  assert.ok(hashes[alg], `unsupported alg ${alg}`);
  const signature = crypto.createHmac(hashes[alg], secret).update(input).digest('base64url');
  return `${input}.${signature}`;
}

/** Seconds since the epoch, as JWT `exp` counts them. */
export function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

/** The JWT secret the gateway-*.test.mjs files give the fixture (JWT_SECRET). */
export const GATEWAY_JWT_SECRET = 'test-secret';

/** Panic messages the fixture's handlers and hooks raise on purpose ("panic" event, auth.panic_hook). */
export const GATEWAY_EXPECTED_PANICS = Object.freeze(['handler bug', 'hook bug']);

/** useBinServer() for the gateway fixture (GATEWAY_SERVER_BIN) with JWT_SECRET=GATEWAY_JWT_SECRET. */
export function useGatewayServer(env = {}) {
  return useBinServer({
    bin: GATEWAY_SERVER_BIN,
    env: { JWT_SECRET: GATEWAY_JWT_SECRET, RUST_BACKTRACE: '0', ...env },
    allowedPanics: GATEWAY_EXPECTED_PANICS,
  });
}

/**
 * Resolves with the error of the next 'connect_error' of `socket` (call right after
 * creating the socket, before any await), or rejects on 'connect' / timeout.
 */
export function waitConnectError(socket, { timeout = WAIT_TIMEOUT } = {}) {
  let onError;
  let onConnect;
  const p = new Promise((resolve, reject) => {
    onError = (err) => resolve(err);
    onConnect = () => reject(new Error(`${socket.nsp} connected, a connect_error was expected`));
    socket.on('connect_error', onError);
    socket.on('connect', onConnect);
  });
  return withTimeout(p, timeout, `'connect_error' on ${socket.nsp}`, () => {
    socket.off('connect_error', onError);
    socket.off('connect', onConnect);
  });
}

/**
 * Asserts that `event` emitted with `args` and an ack callback gets no
 * acknowledgement within `ms` (socket.io-client's own ack timeout fires).
 */
export async function assertNoAck(socket, ms, event, ...args) {
  await assert.rejects(
    socket.timeout(ms).emitWithAck(event, ...args),
    (err) => err instanceof Error && err.message === 'operation has timed out',
    `'${event}' must not be acknowledged`,
  );
}

// ---------------------------------------------------------------------------
// Network cuts
// ---------------------------------------------------------------------------

/** A TCP relay in front of the server, to cut the network under a client: cut()
 * destroys every relayed connection at once, in both directions, as a network
 * failure would (no close frame, no close packet), and refuses new ones until
 * heal(). `fromServer` counts the bytes the server sent through it. */
export async function relay(server) {
  const target = Number(new URL(server.url).port);
  const open = new Set();
  let down = false;
  const counted = { fromServer: 0 };
  const front = net.createServer((c) => {
    if (down) return c.destroy();
    const back = net.connect(target, '127.0.0.1');
    back.on('data', (chunk) => {
      counted.fromServer += chunk.length;
    });
    for (const [a, b] of [[c, back], [back, c]]) {
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
      open.add(a);
      a.on('close', () => open.delete(a));
    }
  });
  await new Promise((resolve) => front.listen(0, '127.0.0.1', resolve));
  after(() => front.close());
  return {
    url: `http://127.0.0.1:${front.address().port}`,
    cut() {
      down = true;
      for (const s of open) s.destroy();
    },
    heal() {
      down = false;
    },
    /** Bytes the server sent through the relay so far. */
    get fromServer() {
      return counted.fromServer;
    },
  };
}

