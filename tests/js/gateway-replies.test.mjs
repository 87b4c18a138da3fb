// Gateway fixture (tests/src/bin/gateway_server.rs), namespace "/": what a handler
// returns becomes the acknowledgement (values, falsy values, binary), or no ack at
// all (unit, None), or an emitted event (WsResponse), or a stream of events
// (ReplyStream); #[message_body("field")], several arguments, and the order of
// concurrent async handlers.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { T, assertNoAck, connect, emitAck, forEachMode, useGatewayServer } from './helpers.mjs';

const srv = useGatewayServer();

/** A ready socket on the fixture ("/" has no welcome event). */
function gconnect(mode, options = {}) {
  return connect(srv, mode, { welcome: false, ...options });
}

/** How long to wait before concluding that no ack is coming. */
const NO_ACK_MS = 400;

forEachMode((mode) => {
  // ----- values -----------------------------------------------------------------

  for (const [label, body] of [
    ['an object', { a: 1, b: 'two', c: [true, null, { d: -1.5 }] }],
    ['a string', 'héllo ✓'],
    ['a number', 42],
    ['a negative float', -0.25],
    ['an array', [1, 'a', false, null, { x: [] }]],
    ['an empty object', {}],
  ]) {
    it(`ok: echoes ${label} as the ack`, T, async () => {
      const c = await gconnect(mode);
      assert.deepStrictEqual(await emitAck(c.socket, 'ok', body), [body]);
    });
  }

  it('ok: Buffers nested in objects and arrays come back as Buffers', T, async () => {
    const c = await gconnect(mode);
    const body = {
      file: Buffer.from([0, 1, 2, 254, 255]),
      nested: { parts: [Buffer.from('part-1'), 'text', Buffer.alloc(0)], n: 7 },
      list: [Buffer.from([9]), { deep: Buffer.from('deep') }],
    };
    const [res] = await emitAck(c.socket, 'ok', body);
    assert.ok(Buffer.isBuffer(res.file), 'file is a Buffer');
    assert.ok(Buffer.isBuffer(res.nested.parts[0]), 'nested.parts[0] is a Buffer');
    assert.ok(Buffer.isBuffer(res.nested.parts[2]), 'nested.parts[2] (empty) is a Buffer');
    assert.ok(Buffer.isBuffer(res.list[1].deep), 'list[1].deep is a Buffer');
    assert.deepStrictEqual(res, body);
  });

  it('ok: a top-level Buffer comes back as a Buffer', T, async () => {
    const c = await gconnect(mode);
    const buf = Buffer.from('top-level binary');
    const [res] = await emitAck(c.socket, 'ok', buf);
    assert.ok(Buffer.isBuffer(res));
    assert.deepStrictEqual(res, buf);
  });

  // ----- falsy values are acknowledged -------------------------------------------

  for (const [event, expected] of [
    ['zero', 0],
    ['false', false],
    ['empty', ''],
  ]) {
    it(`${event}: the falsy return value ${JSON.stringify(expected)} is acknowledged`, T, async () => {
      const c = await gconnect(mode);
      assert.deepStrictEqual(await emitAck(c.socket, event), [expected]);
    });
  }

  // ----- no ack ----------------------------------------------------------------

  it('ok: a null body is echoed as null, which is not acknowledged (like unit / None)', T, async () => {
    const c = await gconnect(mode);
    await assertNoAck(c.socket, NO_ACK_MS, 'ok', null);
    assert.deepStrictEqual(await emitAck(c.socket, 'ok', [null]), [[null]], 'null inside a value is kept');
  });

  for (const event of ['unit', 'none']) {
    it(`${event}: returns nothing, so the ack never comes (and the socket keeps working)`, T, async () => {
      const c = await gconnect(mode);
      await assertNoAck(c.socket, NO_ACK_MS, event);
      assert.deepStrictEqual(await emitAck(c.socket, 'ok', 'after'), ['after']);
      assert.equal(c.rec.count('exception'), 0, 'no exception event');
    });
  }

  // ----- WsResponse: an event instead of an ack ----------------------------------

  it('emit: n → no ack, an "emitted" event with n + 1', T, async () => {
    const c = await gconnect(mode);
    const noAck = assertNoAck(c.socket, NO_ACK_MS, 'emit', 41);
    assert.deepStrictEqual(await c.rec.take('emitted'), [42]);
    await noAck;
    c.socket.emit('emit', -1);
    assert.deepStrictEqual(await c.rec.take('emitted'), [0]);
    assert.equal(c.rec.count('emitted'), 2);
  });

  // ----- ReplyStream ------------------------------------------------------------

  it('stream: 3 → "tick" events 0, 1, 2 in order', T, async () => {
    const c = await gconnect(mode);
    c.socket.emit('stream', 3);
    for (const i of [0, 1, 2]) assert.deepStrictEqual(await c.rec.take('tick'), [i]);
    // a later round trip: the stream is over, nothing else came
    assert.deepStrictEqual(await emitAck(c.socket, 'ok', 'after'), ['after']);
    assert.deepStrictEqual(c.rec.all('tick'), [[0], [1], [2]]);
  });

  it('stream: two streams of one socket each arrive in order', T, async () => {
    const c = await gconnect(mode);
    c.socket.emit('stream', 20);
    const ticks = [];
    for (let i = 0; i < 20; i += 1) ticks.push((await c.rec.take('tick'))[0]);
    assert.deepStrictEqual(ticks, Array.from({ length: 20 }, (_, i) => i));
    c.socket.emit('stream', 2);
    assert.deepStrictEqual(await c.rec.take('tick'), [0]);
    assert.deepStrictEqual(await c.rec.take('tick'), [1]);
  });

  // ----- #[message_body("name")] and several arguments --------------------------

  it('field: {name} → the name', T, async () => {
    const c = await gconnect(mode);
    assert.deepStrictEqual(await emitAck(c.socket, 'field', { name: 'ada', other: 1 }), ['ada']);
  });

  it('field: a missing field → exception "Invalid message: `name`: ..."', T, async () => {
    const c = await gconnect(mode);
    c.socket.emit('field', { other: 1 });
    const [payload] = await c.rec.take('exception');
    assert.equal(payload.status, 'error');
    assert.ok(
      payload.message.startsWith('Invalid message: `name`: invalid type: null, expected a string'),
      `message: ${JSON.stringify(payload.message)}`,
    );
    assert.deepStrictEqual(payload.cause, { pattern: 'field', data: { other: 1 } });
  });

  it('multi: (1, "a", true) → 3 (several arguments are the body as an array)', T, async () => {
    const c = await gconnect(mode);
    assert.deepStrictEqual(await emitAck(c.socket, 'multi', 1, 'a', true), [3]);
    assert.deepStrictEqual(await emitAck(c.socket, 'multi', 1, 'a', true, null, { x: 1 }), [5]);
  });

  // ----- order ------------------------------------------------------------------

  it('slow 200 then ok "fast": both handlers run and both acks arrive', T, async () => {
    const c = await gconnect(mode);
    const arrivals = [];
    const slow = emitAck(c.socket, 'slow', 200).then((r) => {
      arrivals.push('slow');
      return r;
    });
    const fast = emitAck(c.socket, 'ok', 'fast').then((r) => {
      arrivals.push('ok');
      return r;
    });
    assert.deepStrictEqual(await fast, ['fast']);
    assert.deepStrictEqual(await slow, [200]);
    // the async "slow" handler yields: "ok" may overtake it (observed order: arrivals)
    assert.deepStrictEqual([...arrivals].sort(), ['ok', 'slow'], `arrivals ${arrivals}`);
  });

  it('many "ok" events of one socket are acknowledged with their own bodies', T, async () => {
    const c = await gconnect(mode);
    const n = 50;
    const res = await Promise.all(Array.from({ length: n }, (_, i) => emitAck(c.socket, 'ok', { i })));
    assert.deepStrictEqual(
      res,
      Array.from({ length: n }, (_, i) => [{ i }]),
    );
  });
});
