// Connection basics on "/": welcome + ids, middleware, handshake data,
// transports / upgrade, catch-all "any:" events, unknown events.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  T,
  Recorder,
  assertDeepEqualBinary,
  barrier,
  connect,
  createSocket,
  emitAck,
  expectUpgraded,
  finalTransport,
  forEachMode,
  upgradeSeen,
  useServer,
  waitConnect,
  waitEvent,
} from './helpers.mjs';

const srv = useServer();

/**
 * The contract only says "time" is a string: the JS server uses a date string
 * (Date#toString); accept any Date.parse-able string, or epoch milliseconds /
 * seconds written as digits.
 */
function parseHandshakeTime(time) {
  if (/^\d+$/.test(time)) {
    const n = Number(time);
    return n > 1e11 ? n : n * 1000;
  }
  return Date.parse(time);
}

forEachMode((mode) => {
  it('connects and receives "welcome" with its socket id (which is not the engine id)', T, async () => {
    const c = await connect(srv, mode);
    const { socket } = c;
    assert.equal(socket.connected, true);
    assert.equal(typeof socket.id, 'string');
    assert.ok(socket.id.length > 0, 'non-empty socket id');
    assert.deepStrictEqual(c.welcome, { id: socket.id });
    assert.equal(c.rec.log[0].event, 'welcome', 'welcome is the first event');
    const engineId = socket.io.engine.id;
    assert.equal(typeof engineId, 'string');
    assert.ok(engineId.length > 0, 'non-empty engine sid');
    assert.notEqual(socket.id, engineId, 'socket id differs from the Engine.IO sid');
    assert.equal(socket.io.engine.transport.name, finalTransport(mode));
  });

  it('every connection gets distinct socket and engine ids', T, async () => {
    const [a, b, c] = await Promise.all([connect(srv, mode), connect(srv, mode), connect(srv, mode)]);
    const socketIds = new Set([a.id, b.id, c.id]);
    const engineIds = new Set([a, b, c].map((x) => x.socket.io.engine.id));
    assert.equal(socketIds.size, 3);
    assert.equal(engineIds.size, 3);
    for (const id of socketIds) assert.ok(!engineIds.has(id), 'socket ids are not engine ids');
  });

  it(`uses the expected transport (${mode.upgrade ? 'polling then upgrade' : finalTransport(mode) + ' only'})`, T, async () => {
    const socket = createSocket(srv, mode);
    const rec = new Recorder(socket);
    const engine = socket.io.engine;
    const upgrades = [];
    engine.on('upgrade', (t) => upgrades.push(t.name));
    assert.equal(engine.transport.name, mode.upgrade ? 'polling' : finalTransport(mode), 'initial transport');
    await waitConnect(socket);
    await rec.take('welcome');
    if (mode.upgrade) {
      await expectUpgraded(socket.io);
      assert.deepStrictEqual(upgrades, ['websocket']);
    }
    // the connection works on the final transport and keeps the same engine session
    const sid = engine.id;
    assert.deepStrictEqual(await emitAck(socket, 'echo', 'after-transport-check'), ['after-transport-check']);
    assert.equal(socket.io.engine, engine);
    assert.equal(engine.id, sid);
    assert.equal(engine.transport.name, finalTransport(mode));
    if (!mode.upgrade) {
      assert.deepStrictEqual(upgrades, [], 'no upgrade without an upgrade-capable transport list');
      assert.equal(await upgradeSeen(socket.io), false);
    }
  });

  it('the handshake serializes as socket.io\'s socket.handshake object', T, async () => {
    const c = await connect(srv, mode, { auth: { token: 't' }, query: { a: 'b', list: ['x', 'y'] } });
    const [hs] = await emitAck(c.socket, 'handshake-object');
    assert.deepStrictEqual(Object.keys(hs), ['headers', 'time', 'address', 'xdomain', 'secure', 'issued', 'url', 'query', 'auth']);
    assert.equal(hs.headers.host, new URL(srv.url).host);
    assert.equal(hs.address, '127.0.0.1');
    assert.equal(hs.xdomain, false);
    assert.equal(hs.secure, false);
    assert.ok(Math.abs(hs.issued - Date.now()) < 10_000);
    assert.equal(new Date(hs.time).getTime(), Math.floor(hs.issued / 1000) * 1000, hs.time);
    assert.match(hs.url, /^\/socket\.io\/\?/);
    assert.equal(hs.query.a, 'b');
    assert.equal(hs.query.EIO, '4');
    assert.deepStrictEqual(hs.auth, { token: 't' });
  });

  it('events sent before the upgrade completes are delivered', T, async () => {
    // emit immediately (buffered until connect, possibly sent over polling
    // while the websocket probe is in flight)
    const socket = createSocket(srv, mode);
    const rec = new Recorder(socket);
    const acks = Promise.all(Array.from({ length: 20 }, (_, i) => emitAck(socket, 'echo', i, { i })));
    for (let i = 0; i < 20; i += 1) socket.emit('echo', 'no-ack', i);
    const results = await acks;
    assert.deepStrictEqual(results, Array.from({ length: 20 }, (_, i) => [i, { i }]));
    for (let i = 0; i < 20; i += 1) assert.deepStrictEqual(await rec.take('echo'), ['no-ack', i]);
    if (mode.upgrade) await expectUpgraded(socket.io);
  });

  it('middleware rejects auth {reject: true} with connect_error "rejected" / {reason: "test"}', T, async () => {
    const socket = createSocket(srv, mode, { auth: { reject: true } });
    const rec = new Recorder(socket);
    const [err] = await waitEvent(socket, 'connect_error');
    assert.ok(err instanceof Error);
    assert.equal(err.message, 'rejected');
    assert.deepStrictEqual(err.data, { reason: 'test' });
    assert.equal(socket.connected, false);
    assert.equal(socket.active, false, 'a middleware error is final: the client does not retry by itself');
    assert.equal(rec.count('welcome'), 0);
  });

  it('middleware lets other auth payloads through (reject: false, extra fields)', T, async () => {
    const c = await connect(srv, mode, { auth: { reject: false, user: 'alice' } });
    assert.deepStrictEqual(c.welcome, { id: c.id });
  });

  it('"handshake" exposes auth, query, host header, address, url, time and issued', T, async () => {
    const startedAt = Date.now();
    const auth = { token: 'abc', reject: false, nested: { n: 1, list: [1, 'two', null] } };
    const query = { foo: 'bar', 'with space': 'a b&c=d', unicode: 'héllo✓' };
    const c = await connect(srv, mode, { auth, query });
    const [hs] = await emitAck(c.socket, 'handshake');
    assert.ok(hs && typeof hs === 'object', 'handshake ack is an object');
    assert.deepStrictEqual(hs.auth, auth);
    assert.ok(hs.query && typeof hs.query === 'object', 'query is an object');
    for (const [k, v] of Object.entries(query)) assert.equal(hs.query[k], v, `query param ${k}`);
    assert.equal(hs.headers_host, `127.0.0.1:${srv.port}`);
    assert.equal(typeof hs.address, 'string');
    assert.match(hs.address, /127\.0\.0\.1/);
    assert.equal(typeof hs.url, 'string');
    assert.ok(hs.url.includes('/socket.io/'), `url ${hs.url} includes /socket.io/`);
    assert.ok(hs.url.includes('EIO=4'), `url ${hs.url} includes its query string`);
    assert.equal(typeof hs.time, 'string');
    const timeMs = parseHandshakeTime(hs.time);
    assert.ok(!Number.isNaN(timeMs), `time "${hs.time}" is a date string or an epoch number`);
    assert.ok(Math.abs(timeMs - startedAt) < 5 * 60_000, `time "${hs.time}" is about the connection time`);
    assert.equal(typeof hs.issued, 'number');
    assert.ok(
      hs.issued >= startedAt - 2_000 && hs.issued <= Date.now() + 2_000,
      `issued ${hs.issued} is a millisecond timestamp of the connection`,
    );
  });

  it('handshake auth defaults to an empty object', T, async () => {
    const c = await connect(srv, mode);
    const [hs] = await emitAck(c.socket, 'handshake');
    assert.deepStrictEqual(hs.auth, {});
  });

  it('"any:*" events are caught by the catch-all and sent back as "any"', T, async () => {
    const c = await connect(srv, mode);
    c.socket.emit('any:hello', 1, 'two', { three: [3] }, null);
    assert.deepStrictEqual(await c.rec.take('any'), ['any:hello', 1, 'two', { three: [3] }, null]);
    c.socket.emit('any:');
    assert.deepStrictEqual(await c.rec.take('any'), ['any:']);
    const bin = { blob: Buffer.from([0, 1, 2, 255]), list: [Buffer.from('xyz')] };
    c.socket.emit('any:binary', bin, Buffer.alloc(3, 9));
    assertDeepEqualBinary(await c.rec.take('any'), ['any:binary', bin, Buffer.alloc(3, 9)]);
    // strict order of several catch-all events
    for (let i = 0; i < 10; i += 1) c.socket.emit(`any:n${i}`, i);
    for (let i = 0; i < 10; i += 1) assert.deepStrictEqual(await c.rec.take('any'), [`any:n${i}`, i]);
  });

  it('unknown events are ignored and the connection stays healthy', T, async () => {
    const c = await connect(srv, mode);
    c.socket.emit('no-such-event', { a: 1 });
    c.socket.emit('no-such-binary-event', Buffer.from([1, 2, 3]), { b: Buffer.from([4]) });
    c.socket.emit('any'); // no "any:" prefix
    c.socket.emit('anything', 1); // no "any:" prefix
    c.socket.emit('ANY:upper', 1); // prefix is case-sensitive
    await barrier(c);
    assert.equal(c.socket.connected, true);
    assert.equal(c.rec.count('any'), 0, 'no catch-all reply for events without the "any:" prefix');
    assert.deepStrictEqual(await emitAck(c.socket, 'echo', 'still', 'alive'), ['still', 'alive']);
    const names = c.rec.log.map((e) => e.event);
    assert.deepStrictEqual(names, ['welcome'], 'nothing but the welcome was received');
  });
});
