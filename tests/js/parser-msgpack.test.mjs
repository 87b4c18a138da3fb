// The MessagePack parser (PARSER=msgpack) with the official client and
// socket.io-msgpack-parser: every packet is one binary message, and events,
// acks both ways, binary values, rooms, namespaces, middleware refusals and
// connection state recovery behave as with the JSON parser.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import parser from 'socket.io-msgpack-parser';
import {
  T,
  assertDeepEqualBinary,
  connect,
  createSocket,
  emitAck,
  forEachMode,
  useServer,
  waitConnectError,
  waitEvent,
} from './helpers.mjs';

const srv = useServer({ PARSER: 'msgpack', RECOVERY_MS: '5000' });
const opts = { opts: { parser } };

const PAYLOADS = [
  ['strings and numbers', ['héllo 😀', '', 0, -1, 255, 65536, -70000, 2 ** 40, Number.MAX_SAFE_INTEGER, 1.5, -0.25, 1.25e-10]],
  ['null, booleans, nested objects and arrays', [null, true, false, { a: [1, { b: null }], empty: {}, list: [] }]],
  ['binary values, alone and nested', [Buffer.from([0, 1, 255]), { file: Buffer.alloc(300, 7), parts: [Buffer.alloc(0), Buffer.from('x')] }]],
  ['a large binary value', [Buffer.alloc(70_000, 3)]],
];

forEachMode((mode) => {
  for (const [name, args] of PAYLOADS) {
    it(`echo with ack round-trips ${name}`, T, async () => {
      const c = await connect(srv, mode, opts);
      assertDeepEqualBinary(await emitAck(c.socket, 'echo', ...args), args);
    });
  }

  it('server events carry data and a recovery offset; a Date arrives as its ISO string', T, async () => {
    const c = await connect(srv, mode, opts);
    assert.equal(typeof c.welcome.id, 'string');
    c.socket.emit('echo', new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), 'x');
    const back = await c.rec.take('echo');
    assert.equal(back[0], '2024-01-02T03:04:05.678Z');
    assert.equal(back[1], 'x');
    assert.equal(typeof back[2], 'string', 'the offset');
  });

  it('the server asks the client and gets its answer (emit with ack)', T, async () => {
    const c = await connect(srv, mode, opts);
    c.socket.on('question', (data, cb) => cb({ got: data }));
    const [res] = await emitAck(c.socket, 'emit-with-ack', { data: Buffer.from([9, 8]), timeout_ms: 2000 });
    assertDeepEqualBinary(res, { answer: { got: Buffer.from([9, 8]) } });
  });

  it('rooms and broadcasts reach the other msgpack clients', T, async () => {
    const [a, b] = [await connect(srv, mode, opts), await connect(srv, mode, opts)];
    await emitAck(b.socket, 'join', 'mp-room');
    await emitAck(a.socket, 'broadcast', { to: ['mp-room'], event: 'news', data: { n: 1, bin: Buffer.from([1]) } });
    const [news] = await b.rec.take('news');
    assertDeepEqualBinary(news, { n: 1, bin: Buffer.from([1]) });
  });

  it('namespaces: middleware accepts and refuses with connect_error data', T, async () => {
    const admin = await connect(srv, mode, { ...opts, nsp: '/admin', auth: { token: 'secret' }, welcome: false });
    assert.deepStrictEqual(await emitAck(admin.socket, 'echo', 'in admin'), ['in admin']);
    const refused = createSocket(srv, mode, { ...opts, nsp: '/admin', auth: { token: 'nope' } });
    const err = await waitConnectError(refused);
    assert.equal(err.message, 'unauthorized');
    assert.deepStrictEqual(err.data, { code: 401 });
  });

  it('the server disconnecting a socket reaches the client', T, async () => {
    const c = await connect(srv, mode, opts);
    const gone = waitEvent(c.socket, 'disconnect');
    c.socket.emit('disconnect-me');
    assert.equal((await gone)[0], 'io server disconnect');
  });
});

it('a client speaking JSON to a msgpack server is closed (parse error), others go on', T, async () => {
  const mode = { name: 'websocket', opts: { transports: ['websocket'] } };
  const ok = await connect(srv, mode, opts);
  const json = createSocket(srv, mode);
  await assert.rejects(waitEvent(json, 'connect', { timeout: 1000 }));
  assert.deepStrictEqual(await emitAck(ok.socket, 'echo', 1), [1]);
});
