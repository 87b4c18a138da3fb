// Helpers of the Redis cluster tests (redis-*.test.mjs): a redis-server on a free port,
// Rust nodes (the redis_node_server binary) and a Node.js node (socket.io 4.8 with
// @socket.io/redis-adapter 8.x) that both implement the same test events, and clients
// that answer the "ask" broadcasts with their label.
//
// redis-server: REDIS_SERVER_BIN, else `redis-server` on PATH, else /usr/bin, /usr/sbin,
// /usr/local/bin. Rust node binary: REDIS_NODE_SERVER_BIN, else
// ../../target/debug/redis_node_server.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server } from 'socket.io';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { instrument } from '@socket.io/admin-ui';
import { createClient, createCluster } from 'redis';
import { io } from 'socket.io-client';
import { Recorder, byteCompare, delay, waitConnect, withTimeout } from './helpers.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const VERBOSE = Boolean(process.env.E2E_VERBOSE);

export const RUST_NODE_BIN =
  process.env.REDIS_NODE_SERVER_BIN || path.resolve(HERE, '../../target/debug/redis_node_server');

/** Requests timeout of every node (ms). */
export const REQUESTS_TIMEOUT = 2000;

const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* ignore */
    }
  }
});

export function redisServerBin() {
  if (process.env.REDIS_SERVER_BIN) return process.env.REDIS_SERVER_BIN;
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean);
  for (const dir of [...dirs, '/usr/bin', '/usr/sbin', '/usr/local/bin']) {
    const candidate = path.join(dir, 'redis-server');
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error('redis-server not found: install it (Debian: apt-get install redis-server) or set REDIS_SERVER_BIN');
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function redisPing(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(300, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** A redis-server on a free loopback port: { port, url, kill(), restart() }. */
export async function startRedis() {
  const bin = redisServerBin();
  const port = await freePort();
  const redis = { port, url: `redis://127.0.0.1:${port}`, child: null };
  redis.launch = async () => {
    const child = spawn(
      bin,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
      { stdio: ['ignore', VERBOSE ? 'inherit' : 'ignore', VERBOSE ? 'inherit' : 'ignore'] },
    );
    children.add(child);
    child.once('exit', () => children.delete(child));
    redis.child = child;
    const deadline = Date.now() + 10_000;
    while (!(await redisPing(port))) {
      if (Date.now() > deadline) throw new Error('redis-server did not start');
      await delay(20);
    }
  };
  redis.kill = async () => {
    const child = redis.child;
    redis.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  redis.restart = async () => {
    await redis.kill();
    await redis.launch();
  };
  await redis.launch();
  return redis;
}

/**
 * A Redis Cluster of three masters on free loopback ports (cluster mode, created with
 * redis-cli --cluster create): { urls, url (the first), kill() }.
 */
export async function startRedisCluster() {
  const bin = redisServerBin();
  const cli = path.join(path.dirname(bin), 'redis-cli');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-cluster-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const procs = ports.map((port) => {
    const child = spawn(
      bin,
      [
        '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--protected-mode', 'no', '--cluster-enabled', 'yes',
        '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000',
      ],
      { cwd: dir, stdio: ['ignore', VERBOSE ? 'inherit' : 'ignore', VERBOSE ? 'inherit' : 'ignore'] },
    );
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  });
  const deadline = Date.now() + 10_000;
  for (const port of ports) {
    while (!(await redisPing(port))) {
      if (Date.now() > deadline) throw new Error('redis-server (cluster mode) did not start');
      await delay(20);
    }
  }
  execFileSync(cli, ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
    stdio: 'ignore',
  });
  for (;;) {
    const info = execFileSync(cli, ['-p', String(ports[0]), 'cluster', 'info']).toString();
    if (info.includes('cluster_state:ok')) break;
    if (Date.now() > deadline + 10_000) throw new Error(`the Redis Cluster did not become ready:\n${info}`);
    await delay(100);
  }
  const urls = ports.map((p) => `redis://127.0.0.1:${p}`);
  return {
    urls,
    url: urls[0],
    kill: async () => {
      await Promise.all(
        procs.map((child) => {
          if (child.exitCode !== null) return null;
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGKILL');
          return exited;
        }),
      );
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A Rust node (redis_node_server) on the given Redis, with the classic adapter or (kind
 * 'sharded') the sharded one: { url, kill(), health() }.
 */
export function startRustNode(redisUrl, kind = 'classic') {
  return new Promise((resolve, reject) => {
    const child = spawn(RUST_NODE_BIN, [], {
      env: {
        ...process.env,
        PORT: '0',
        REDIS_URL: Array.isArray(redisUrl) ? redisUrl[0] : redisUrl,
        REDIS_CLUSTER: Array.isArray(redisUrl) ? redisUrl.join(',') : '',
        REQUESTS_TIMEOUT_MS: String(REQUESTS_TIMEOUT),
        ADAPTER: kind === 'cluster' ? 'sharded' : kind,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    const node = { kind: 'rust', child, url: null, stderr: '', panicked: false, exit: null };
    const timer = setTimeout(() => reject(new Error(`${RUST_NODE_BIN} did not start`)), 15_000);
    child.once('error', (e) => reject(new Error(`cannot start ${RUST_NODE_BIN}: ${e.message} (cargo build -p gateway-tests)`)));
    child.once('exit', (code, signal) => {
      children.delete(child);
      node.exit = { code, signal };
      reject(new Error(`redis_node_server exited (code ${code}, signal ${signal})\n${node.stderr}`));
    });
    child.stderr.on('data', (chunk) => {
      if (VERBOSE) process.stderr.write(chunk);
      node.stderr = (node.stderr + chunk.toString()).slice(-16_384);
      if (node.stderr.includes('panicked at')) node.panicked = true;
    });
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      if (node.url) return;
      buf += chunk;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        node.url = `http://127.0.0.1:${m[1]}`;
        resolve(node);
      }
    });
    node.kill = async () => {
      if (node.exit) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    };
    node.health = () => {
      if (node.panicked) throw new Error(`a Rust node panicked:\n${node.stderr}`);
    };
  });
}

// ---------------------------------------------------------------------------------------
// The Node.js node: the same events as redis_node_server.rs
// ---------------------------------------------------------------------------------------

const sortedStrings = (list) => [...list].map(String).sort(byteCompare);
const sortAnswers = (list) =>
  [...(list || [])].sort((a, b) => byteCompare(JSON.stringify(a) ?? '', JSON.stringify(b) ?? ''));

function operator(nsp, socket, opts) {
  let op = opts.from_socket ? socket.broadcast : nsp;
  for (const room of opts.to || []) op = op.to(room);
  for (const room of opts.except || []) op = op.except(room);
  if (opts.local) op = op.local;
  return op;
}

const scoped = (nsp, room) => (room == null ? nsp : nsp.in(room));

function registerNodeHandlers(nsp, socket, received) {
  socket.on('server-side-emit', async (opts, cb) => {
    const args = opts.args || [];
    if (!opts.with_ack) {
      nsp.serverSideEmit('hello', ...args);
      cb('done');
      return;
    }
    try {
      cb({ responses: sortAnswers(await nsp.serverSideEmitWithAck('hello', ...args)) });
    } catch (err) {
      cb({ err: err.message, responses: [] });
    }
  });
  socket.on('server-side-received', (cb) => cb(received.splice(0)));
  socket.on('join', (room, cb) => {
    socket.join(room);
    cb('ok');
  });
  socket.on('leave', (room, cb) => {
    socket.leave(room);
    cb('ok');
  });
  socket.on('rooms', (cb) => cb(sortedStrings(socket.rooms)));
  socket.on('broadcast', (opts, cb) => {
    operator(nsp, socket, opts).emit(opts.event, opts.data);
    cb('done');
  });
  socket.on('broadcast-with-ack', (opts, cb) => {
    operator(nsp, socket, opts)
      .timeout(opts.timeout_ms ?? 2000)
      .emit('ask', 42, (err, responses) => {
        if (err) cb({ err: err.message, responses: sortAnswers(responses) });
        else cb({ responses: sortAnswers(responses) });
      });
  });
  socket.on('fetch-sockets', async (room, cb) => {
    try {
      const sockets = await scoped(nsp, room).fetchSockets();
      cb(
        sockets
          .map((s) => ({ id: s.id, rooms: sortedStrings(s.rooms) }))
          .sort((a, b) => byteCompare(a.id, b.id)),
      );
    } catch (err) {
      cb({ err: err.message });
    }
  });
  socket.on('sockets-join', ({ room, target }, cb) => {
    scoped(nsp, room).socketsJoin(target);
    cb('ok');
  });
  socket.on('sockets-leave', ({ room, target }, cb) => {
    scoped(nsp, room).socketsLeave(target);
    cb('ok');
  });
  socket.on('disconnect-sockets', ({ room, close }, cb) => {
    cb('ok');
    scoped(nsp, room).disconnectSockets(Boolean(close));
  });
  socket.on('server-count', async (cb) => {
    try {
      cb(await nsp.adapter.serverCount());
    } catch (err) {
      cb({ err: err.message });
    }
  });
  socket.on('all-rooms', async (cb) => {
    try {
      cb(sortedStrings(await nsp.adapter.allRooms()));
    } catch (err) {
      cb({ err: err.message });
    }
  });
}

/**
 * A Node.js socket.io 4.8 node with @socket.io/redis-adapter's classic adapter or (kind
 * 'sharded') createShardedAdapter: { url, io, kill() }.
 */
export async function startNodeNode(redisUrl, kind = 'classic') {
  const reconnectStrategy = (retries) => Math.min(50 * (retries + 1), 500);
  const pub = Array.isArray(redisUrl)
    ? createCluster({ rootNodes: redisUrl.map((url) => ({ url })), defaults: { socket: { reconnectStrategy } } })
    : createClient({ url: redisUrl, socket: { reconnectStrategy } });
  const sub = pub.duplicate();
  const errors = [];
  for (const c of [pub, sub]) c.on('error', (e) => errors.push(e));
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  const ioServer = new Server(httpServer, {
    adapter:
      kind === 'sharded' || kind === 'cluster'
        ? createShardedAdapter(pub, sub, { subscriptionMode: 'dynamic' })
        : createAdapter(pub, sub, { requestsTimeout: REQUESTS_TIMEOUT }),
    pingInterval: 1000,
    pingTimeout: 1000,
  });
  instrument(ioServer, { auth: false, serverId: `node-${process.pid}`, mode: 'development' });
  const nsp = ioServer.of('/');
  const received = [];
  nsp.on('hello', (...args) => {
    const cb = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    received.push(args);
    if (cb) cb({ impl: 'node', got: args });
  });
  nsp.on('connection', (socket) => registerNodeHandlers(nsp, socket, received));
  await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
  const node = {
    kind: 'node',
    io: ioServer,
    url: `http://127.0.0.1:${httpServer.address().port}`,
    errors,
    health: () => {},
  };
  node.kill = async () => {
    // The admin UI's statistics timer outlives io.close(): its emits must not reach the
    // Redis clients closed below.
    ioServer.of('/admin').adapter.broadcast = () => {};
    if (Array.isArray(redisUrl)) {
      // node-redis's cluster client destroys a shard's pub/sub connection twice when two
      // unsubscribes of that shard run at once (the adapters' close and the rooms emptied
      // by leaving sockets): no unsubscribes on the way out; quit closes everything.
      sub.sUnsubscribe = async () => {};
      sub.SUNSUBSCRIBE = sub.sUnsubscribe;
    }
    await new Promise((r) => ioServer.close(() => r()));
    await Promise.allSettled([pub.quit(), sub.quit()]);
    for (const c of [pub, sub]) {
      try {
        c.destroy();
      } catch {
        /* already closed */
      }
    }
  };
  return node;
}

// ---------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------

const clients = new Set();

/**
 * A websocket client of `node` that answers every "ask" with `label` (or `answer`):
 * { socket, rec, id, label }.
 */
export async function connectClient(node, label, { answer } = {}) {
  const socket = io(node.url, { forceNew: true, reconnection: false, transports: ['websocket'] });
  clients.add(socket);
  const rec = new Recorder(socket);
  socket.on('ask', (...args) => {
    const cb = args.pop();
    if (typeof cb === 'function') cb(answer !== undefined ? answer : label);
  });
  await waitConnect(socket);
  return { socket, rec, id: socket.id, label, node };
}

export function closeClients() {
  for (const s of clients) {
    try {
      s.disconnect();
    } catch {
      /* ignore */
    }
  }
  clients.clear();
}

/** Emits with an ack (timeout ms) and resolves with the first ack argument. */
export function ask(client, event, ...args) {
  const p = new Promise((resolve, reject) => {
    client.socket.timeout(REQUESTS_TIMEOUT + 4000).emit(event, ...args, (err, value) => {
      if (err) reject(new Error(`no ack for '${event}' from ${client.label}: ${err.message}`));
      else resolve(value);
    });
  });
  return p;
}

/** Polls `check` (async, truthy when done) until it passes or `timeout` ms. */
export async function eventually(label, check, timeout = 8000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label} (last: ${last && (last.message || JSON.stringify(last))})`);
    await delay(50);
  }
}

/** Waits until every client's node reports `n` nodes. */
export async function waitServerCount(clientsList, n) {
  await eventually(`server count ${n}`, async () => {
    const counts = await Promise.all(clientsList.map((c) => ask(c, 'server-count')));
    return counts.every((x) => x === n);
  }, 15_000);
}

export { withTimeout };
