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

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, afterEach, before, describe } from 'node:test';
import { io, Manager } from 'socket.io-client';

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
 * Spawns the server binary with PORT=0 (plus `env`) and resolves with
 * { url, port, child, kill(), health() } once it printed its listening line.
 */
export function startServer({ env = {}, timeout = SERVER_START_TIMEOUT } = {}) {
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(SERVER_BIN, [], {
        env: { ...process.env, PORT: '0', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      reject(new Error(`cannot spawn ${SERVER_BIN}: ${err.message}`));
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
      () => fail(`server ${SERVER_BIN} did not print "listening on http://127.0.0.1:<port>" within ${timeout} ms`),
      timeout,
    );

    child.on('error', (err) => fail(`cannot start server ${SERVER_BIN}: ${err.message} (build it or set E2E_SERVER_BIN)`));
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
