// Operability, against the gateway fixture (tests/src/bin/gateway_server.rs), which
// mounts a Prometheus endpoint (metrics-exporter-prometheus) at /metrics:
// - the counters, gauges and histograms move as official clients connect over each
//   transport, upgrade, emit, get acks and exceptions, get refused and disconnect;
// - on SIGTERM the server drains: a running handler's ack arrives, clients are
//   disconnected (the official client sees "transport close", as with a Node server
//   closing), the disconnect hooks see "server shutting down", and the process exits 0.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  MODES, T, connect, createSocket, delay, emitAck, rawRequest,
  useGatewayServer, waitConnectError, waitEvent,
} from './helpers.mjs';

const srv = useGatewayServer({ RUST_LOG: 'info' });
const mode = (name) => MODES.find((m) => m.name === name);

/** GET `path` on the server: { status, body }. */
function get(server, path) {
  return new Promise((resolve, reject) => {
    http
      .get(`${server.url}${path}`, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      })
      .on('error', reject);
  });
}

/** The samples of a Prometheus text page: `name{a="x",b="y"}` (labels sorted) → value. */
async function scrape(server) {
  const { status, body } = await get(server, '/metrics');
  assert.equal(status, 200);
  const samples = new Map();
  for (const line of body.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = m[2] ? [...m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}="${v}"`).sort() : [];
    samples.set(labels.length ? `${m[1]}{${labels.join(',')}}` : m[1], Number(m[3]));
  }
  return samples;
}

/** The value of `name` with `labels` (0 when absent: not reported yet). */
function value(samples, name, labels = {}) {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort();
  return samples.get(l.length ? `${name}{${l.join(',')}}` : name) ?? 0;
}

/** Scrapes until `check(samples)` holds (the server counts as it goes), or fails. */
async function until(server, what, check, timeout = 3000) {
  const deadline = Date.now() + timeout;
  let samples;
  for (;;) {
    samples = await scrape(server);
    if (check(samples)) return samples;
    if (Date.now() > deadline) break;
    await delay(50);
  }
  assert.fail(`${what}: not seen in time\n${[...samples].map(([k, v]) => `${k} ${v}`).join('\n')}`);
}

const ROOT = { namespace: '/' };

describe('metrics (Prometheus endpoint of the gateway fixture)', () => {
  it('sockets and sessions by transport, upgrades, handshakes, disconnect reasons', T, async () => {
    const server = await srv.fresh();
    const ws = await connect(server, mode('websocket'), { welcome: false });
    const polling = await connect(server, mode('polling'), { welcome: false });
    const upgraded = await connect(server, mode('upgrade'), { welcome: false }); // waits for the upgrade
    let s = await until(server, 'three sockets on "/"', (s) =>
      value(s, 'socketio_sockets_connected', { ...ROOT, transport: 'websocket' }) === 2 &&
      value(s, 'socketio_sockets_connected', { ...ROOT, transport: 'polling' }) === 1);
    assert.equal(value(s, 'engineio_connections', { transport: 'websocket' }), 2);
    assert.equal(value(s, 'engineio_connections', { transport: 'polling' }), 1);
    assert.equal(value(s, 'engineio_upgrades_total'), 1);
    assert.equal(value(s, 'engineio_handshakes_total', { transport: 'polling' }), 2);
    assert.equal(value(s, 'engineio_handshakes_total', { transport: 'websocket' }), 1);

    ws.socket.disconnect();
    // The session's disconnect is counted when its teardown runs, just after the gauges
    // move: wait for all of them.
    s = await until(server, 'the websocket socket gone', (s) =>
      value(s, 'socketio_sockets_connected', { ...ROOT, transport: 'websocket' }) === 1 &&
      value(s, 'engineio_connections', { transport: 'websocket' }) === 1 &&
      value(s, 'engineio_disconnects_total', { reason: 'transport_close' }) === 1);
    assert.equal(value(s, 'socketio_disconnects_total', { ...ROOT, reason: 'client_namespace_disconnect' }), 1);
    polling.socket.disconnect();
    upgraded.socket.disconnect();
    s = await until(server, 'no socket left', (s) =>
      value(s, 'socketio_sockets_connected', { ...ROOT, transport: 'websocket' }) === 0 &&
      value(s, 'socketio_sockets_connected', { ...ROOT, transport: 'polling' }) === 0 &&
      value(s, 'engineio_connections', { transport: 'polling' }) === 0 &&
      value(s, 'engineio_connections', { transport: 'websocket' }) === 0 &&
      value(s, 'socketio_disconnects_total', { ...ROOT, reason: 'client_namespace_disconnect' }) >= 3);
    assert.equal(value(s, 'socketio_disconnects_total', { ...ROOT, reason: 'client_namespace_disconnect' }), 3);
  });

  it('events, acks, the handler-latency histogram and exceptions by kind', T, async () => {
    const server = await srv.fresh();
    const { socket } = await connect(server, mode('websocket'), { welcome: false });
    const before = await scrape(server);
    for (let i = 0; i < 3; i++) assert.deepStrictEqual(await emitAck(socket, 'ok', i), [i]);
    socket.emit('ws-error');
    socket.emit('validate', { room: 5 });
    socket.emit('internal');
    socket.emit('nope'); // no handler: counted as received, never a label
    const roles = await connect(server, mode('websocket'), { nsp: '/roles', welcome: false });
    roles.socket.emit('admin');
    const s = await until(server, 'exceptions of each kind', (s) =>
      value(s, 'socketio_exceptions_total', { ...ROOT, event: 'ws-error', kind: 'ws' }) === 1 &&
      value(s, 'socketio_exceptions_total', { ...ROOT, event: 'validate', kind: 'validation' }) === 1 &&
      value(s, 'socketio_exceptions_total', { ...ROOT, event: 'internal', kind: 'internal' }) === 1 &&
      value(s, 'socketio_exceptions_total', { namespace: '/roles', event: 'admin', kind: 'forbidden' }) === 1);
    const delta = (name, labels) => value(s, name, labels) - value(before, name, labels);
    assert.equal(delta('socketio_events_received_total', ROOT), 7);
    assert.equal(delta('socketio_acks_sent_total', ROOT), 3);
    // The three exceptions went out as `exception` events.
    assert.ok(delta('socketio_events_sent_total', ROOT) >= 3, 'events sent');
    const ok = { ...ROOT, event: 'ok' };
    assert.equal(delta('socketio_handler_duration_seconds_count', ok), 3);
    assert.equal(delta('socketio_handler_duration_seconds_bucket', { ...ok, le: '+Inf' }), 3);
    assert.ok(value(s, 'socketio_handler_duration_seconds_sum', ok) >= 0);
    // Event labels are the declared events only.
    assert.ok(![...s.keys()].some((k) => k.includes('event="nope"')));
  });

  it('refusals: engine handshakes and namespace CONNECTs, by reason', T, async () => {
    const server = await srv.fresh();
    const eio3 = await rawRequest(`${server.url}/socket.io/?EIO=3&transport=polling`);
    assert.equal(eio3.status, 400);
    await waitConnectError(createSocket(server, mode('websocket'), { nsp: '/nowhere' }));
    await waitConnectError(
      createSocket(server, mode('websocket'), { nsp: '/secure', auth: { token: 'not-a-jwt' } }),
    );
    const s = await until(server, 'refusals', (s) =>
      value(s, 'engineio_handshake_refusals_total', { reason: 'unsupported_protocol' }) === 1 &&
      value(s, 'socketio_connect_refusals_total', { namespace: '(unknown)', reason: 'invalid_namespace' }) === 1 &&
      value(s, 'socketio_connect_refusals_total', { namespace: '/secure', reason: 'middleware' }) === 1);
    // No namespace the client made up became a label.
    assert.ok(![...s.keys()].some((k) => k.includes('/nowhere')));
  });
});

describe('SIGTERM', () => {
  it('drains: a running handler acks, clients see "transport close", hooks see "server shutting down", exit 0', T, async () => {
    const server = await srv.fresh();
    const a = await connect(server, mode('websocket'), { welcome: false });
    const b = await connect(server, mode('polling'), { welcome: false });
    const slow = emitAck(a.socket, 'slow', 300);
    await delay(50);
    const gone = [a, b].map(({ socket }) => waitEvent(socket, 'disconnect'));
    let stderr = '';
    server.child.stderr.on('data', (c) => (stderr += c.toString('utf8')));
    server.child.kill('SIGTERM');
    assert.deepStrictEqual(await slow, [300]);
    const reasons = (await Promise.all(gone)).map((args) => args[0]);
    assert.deepStrictEqual(reasons, ['transport close', 'transport close']);
    const exit = await server.exited;
    assert.deepStrictEqual(exit, { code: 0, signal: null });
    server.killedByUs = true;
    // The fixture's disconnect hook logs inside the socket span, which carries the reason.
    const left = stderr.replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((l) => l.includes('client left'));
    assert.equal(left.length, 2, stderr);
    for (const line of left) assert.match(line, /reason="server shutting down"/);
    for (const line of left) assert.doesNotMatch(line, /token|auth/);
  });
});
