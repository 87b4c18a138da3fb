// Gateway fixture (tests/src/bin/gateway_server.rs): NestJS exception payloads on the
// `exception` event (WsException string / object, internal errors, panics), the
// ValidationPipe, message guards ("/roles"), and errors sent through the ack
// ("/ack-errors", ack_errors = true).
//
// Every payload is compared with deepStrictEqual; the "exact bytes" tests also compare
// JSON.stringify(payload) with NestJS's serialization, which checks the key order.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { T, connect, emitAck, forEachMode, useGatewayServer } from './helpers.mjs';

const srv = useGatewayServer();

function gconnect(mode, options = {}) {
  return connect(srv, mode, { welcome: false, ...options });
}

/** A round trip on "/" (the `ok` echo), after which everything sent before has arrived. */
async function roundTrip(socket, tag = 'rt') {
  assert.deepStrictEqual(await emitAck(socket, 'ok', tag), [tag]);
}

// Payloads are compared as bytes: NestJS clients see keys in the order
// {status, message, cause: {pattern, data}}.

/** Exception payloads of "/" requests: label, emit args, expected exact JSON. */
const EXCEPTIONS = [
  {
    label: 'ws-error with body {"x":1}',
    args: ['ws-error', { x: 1 }],
    json: '{"status":"error","message":"room is full","cause":{"pattern":"ws-error","data":{"x":1}}}',
  },
  {
    label: 'ws-error without body',
    args: ['ws-error'],
    json: '{"status":"error","message":"room is full","cause":{"pattern":"ws-error"}}',
  },
  {
    label: 'object-error',
    args: ['object-error'],
    json: '{"code":"FULL","message":"room is full"}',
  },
  {
    label: 'object-error with a body (the object is sent as it is)',
    args: ['object-error', { ignored: true }],
    json: '{"code":"FULL","message":"room is full"}',
  },
  {
    label: 'internal (an io::Error)',
    args: ['internal'],
    json: '{"status":"error","message":"Internal server error","cause":{"pattern":"internal"}}',
  },
  {
    label: 'panic with body 1',
    args: ['panic', 1],
    json: '{"status":"error","message":"Internal server error","cause":{"pattern":"panic","data":1}}',
  },
];

forEachMode((mode) => {
  // ----- exception payloads ---------------------------------------------------------

  for (const c of EXCEPTIONS) {
    it(`${c.label} → exception ${c.json}`, T, async () => {
      const client = await gconnect(mode);
      client.socket.emit(...c.args);
      const args = await client.rec.take('exception');
      assert.equal(args.length, 1, 'one argument');
      assert.deepStrictEqual(args[0], JSON.parse(c.json));
      await roundTrip(client.socket);
      assert.equal(client.rec.count('exception'), 1, 'exactly one exception event');
    });

    const opts = T;
    it(`${c.label} → exception, exact bytes (key order)`, opts, async () => {
      const client = await gconnect(mode);
      client.socket.emit(...c.args);
      const [payload] = await client.rec.take('exception');
      assert.equal(JSON.stringify(payload), c.json);
    });
  }

  it('an exception with an ack callback: the ack is not called, the exception event is emitted', T, async () => {
    const client = await gconnect(mode);
    let acked = false;
    client.socket.emit('ws-error', { x: 2 }, () => {
      acked = true;
    });
    assert.deepStrictEqual(await client.rec.take('exception'), [
      { status: 'error', message: 'room is full', cause: { pattern: 'ws-error', data: { x: 2 } } },
    ]);
    await roundTrip(client.socket);
    assert.equal(acked, false, 'the ack callback was not called');
  });

  it('panic: the same client and another client still get answers afterwards', T, async () => {
    const a = await gconnect(mode);
    a.socket.emit('panic', 1);
    assert.deepStrictEqual(await a.rec.take('exception'), [
      { status: 'error', message: 'Internal server error', cause: { pattern: 'panic', data: 1 } },
    ]);
    assert.deepStrictEqual(await emitAck(a.socket, 'ok', 'still here'), ['still here']);
    const b = await gconnect(mode);
    assert.deepStrictEqual(await emitAck(b.socket, 'ok', { b: true }), [{ b: true }]);
    // several panics in a row, interleaved with normal traffic
    a.socket.emit('panic', 'x');
    b.socket.emit('panic', ['y']);
    assert.deepStrictEqual((await a.rec.take('exception'))[0].cause, { pattern: 'panic', data: 'x' });
    assert.deepStrictEqual((await b.rec.take('exception'))[0].cause, { pattern: 'panic', data: ['y'] });
    assert.deepStrictEqual(await emitAck(a.socket, 'zero'), [0]);
    assert.deepStrictEqual(await emitAck(b.socket, 'false'), [false]);
    assert.equal(a.socket.connected && b.socket.connected, true);
  });

  // ----- ValidationPipe -------------------------------------------------------------

  it('validate {room:"a", priority:3} → "a:3"', T, async () => {
    const client = await gconnect(mode);
    assert.deepStrictEqual(await emitAck(client.socket, 'validate', { room: 'a', priority: 3 }), ['a:3']);
  });

  it('validate {room:"", priority:9} → exception "Validation failed: priority (range); room (length)"', T, async () => {
    const client = await gconnect(mode);
    client.socket.emit('validate', { room: '', priority: 9 });
    const [payload] = await client.rec.take('exception');
    assert.equal(payload.status, 'error');
    assert.equal(payload.message, 'Validation failed: priority (range); room (length)');
    assert.deepStrictEqual(
      payload.errors.map((e) => ({ field: e.field, constraints: e.constraints })),
      [
        { field: 'priority', constraints: ['range'] },
        { field: 'room', constraints: ['length'] },
      ],
    );
    for (const e of payload.errors) {
      assert.deepStrictEqual(Object.keys(e).sort(), ['constraints', 'field', 'messages']);
      assert.equal(e.messages.length, 1);
      assert.equal(typeof e.messages[0], 'string');
      assert.ok(e.messages[0].length > 0);
    }
    assert.deepStrictEqual(Object.keys(payload).sort(), ['errors', 'message', 'status']);
  });

  it(
    'validate {room:"", priority:9} → exception, key order {status, message, errors: [{field, constraints, messages}]}',
    T,
    async () => {
      const client = await gconnect(mode);
      client.socket.emit('validate', { room: '', priority: 9 });
      const [payload] = await client.rec.take('exception');
      assert.deepStrictEqual(Object.keys(payload), ['status', 'message', 'errors']);
      for (const e of payload.errors) assert.deepStrictEqual(Object.keys(e), ['field', 'constraints', 'messages']);
    },
  );

  it('validate with one invalid field lists only that field', T, async () => {
    const client = await gconnect(mode);
    client.socket.emit('validate', { room: 'abcdefghijk', priority: 1 });
    const [payload] = await client.rec.take('exception');
    assert.equal(payload.message, 'Validation failed: room (length)');
    assert.deepStrictEqual(
      payload.errors.map((e) => e.field),
      ['room'],
    );
  });

  it('validate {room:5} (wrong type) → exception "Invalid message: ..."', T, async () => {
    const client = await gconnect(mode);
    client.socket.emit('validate', { room: 5 });
    const [payload] = await client.rec.take('exception');
    assert.equal(payload.status, 'error');
    assert.ok(payload.message.startsWith('Invalid message:'), `message: ${JSON.stringify(payload.message)}`);
    assert.deepStrictEqual(payload.cause, { pattern: 'validate', data: { room: 5 } });
    assert.deepStrictEqual(Object.keys(payload).sort(), ['cause', 'message', 'status']);
  });

  it('validate with no body → exception "Invalid message: ..." without cause data', T, async () => {
    const client = await gconnect(mode);
    client.socket.emit('validate');
    const [payload] = await client.rec.take('exception');
    assert.equal(payload.status, 'error');
    assert.ok(payload.message.startsWith('Invalid message:'), `message: ${JSON.stringify(payload.message)}`);
    assert.deepStrictEqual(payload.cause, { pattern: 'validate' });
  });

  // ----- message guards: "/roles" ----------------------------------------------------

  it('/roles: public → "public" without a role', T, async () => {
    const client = await gconnect(mode, { nsp: '/roles' });
    assert.deepStrictEqual(await emitAck(client.socket, 'public'), ['public']);
  });

  it('/roles: admin without role → exception "Forbidden resource" (cause pattern "admin"), no ack', T, async () => {
    const client = await gconnect(mode, { nsp: '/roles' });
    let acked = false;
    client.socket.emit('admin', () => {
      acked = true;
    });
    assert.deepStrictEqual(await client.rec.take('exception'), [
      { status: 'error', message: 'Forbidden resource', cause: { pattern: 'admin' } },
    ]);
    assert.deepStrictEqual(await emitAck(client.socket, 'public'), ['public']);
    assert.equal(acked, false);
  });

  it('/roles: admin with another role → "Forbidden resource" (with the body as cause data)', T, async () => {
    const client = await gconnect(mode, { nsp: '/roles', auth: { role: 'user' } });
    client.socket.emit('admin', { please: true });
    assert.deepStrictEqual(await client.rec.take('exception'), [
      { status: 'error', message: 'Forbidden resource', cause: { pattern: 'admin', data: { please: true } } },
    ]);
  });

  it('/roles: admin with auth {role:"admin"} → "admin"', T, async () => {
    const client = await gconnect(mode, { nsp: '/roles', auth: { role: 'admin' } });
    assert.deepStrictEqual(await emitAck(client.socket, 'admin'), ['admin']);
    assert.deepStrictEqual(await emitAck(client.socket, 'public'), ['public']);
    assert.equal(client.rec.count('exception'), 0);
  });

  // ----- errors through the ack: "/ack-errors" ----------------------------------------

  it('/ack-errors: validate invalid with an ack → the ack gets the validation error, no exception event', T, async () => {
    const client = await gconnect(mode, { nsp: '/ack-errors' });
    const [payload] = await emitAck(client.socket, 'validate', { room: '', priority: 0 });
    assert.equal(payload.status, 'error');
    assert.equal(payload.message, 'Validation failed: priority (range); room (length)');
    assert.deepStrictEqual(
      payload.errors.map((e) => [e.field, e.constraints]),
      [
        ['priority', ['range']],
        ['room', ['length']],
      ],
    );
    assert.deepStrictEqual(await emitAck(client.socket, 'validate', { room: 'ok', priority: 5 }), ['ok']);
    assert.equal(client.rec.count('exception'), 0, 'no exception event');
  });

  it('/ack-errors: ws-error with an ack → ack {"status":"error","message":"room is full","cause":{"pattern":"ws-error"}}, no exception event', T, async () => {
    const client = await gconnect(mode, { nsp: '/ack-errors' });
    const res = await emitAck(client.socket, 'ws-error');
    assert.deepStrictEqual(res, [{ status: 'error', message: 'room is full', cause: { pattern: 'ws-error' } }]);
    // a later round trip: an exception event, had one been emitted, would be here by now
    assert.deepStrictEqual(await emitAck(client.socket, 'validate', { room: 'r', priority: 1 }), ['r']);
    assert.equal(client.rec.count('exception'), 0, 'no exception event');
  });

  it(
    '/ack-errors: ws-error with an ack, exact bytes (key order)',
    T,
    async () => {
      const client = await gconnect(mode, { nsp: '/ack-errors' });
      const [payload] = await emitAck(client.socket, 'ws-error');
      assert.equal(JSON.stringify(payload), '{"status":"error","message":"room is full","cause":{"pattern":"ws-error"}}');
    },
  );

  it('/ack-errors: ws-error with a body and an ack → the body is the cause data', T, async () => {
    const client = await gconnect(mode, { nsp: '/ack-errors' });
    assert.deepStrictEqual(await emitAck(client.socket, 'ws-error', [1, 2]), [
      { status: 'error', message: 'room is full', cause: { pattern: 'ws-error', data: [1, 2] } },
    ]);
  });

  it('/ack-errors: ws-error without an ack → the exception event', T, async () => {
    const client = await gconnect(mode, { nsp: '/ack-errors' });
    client.socket.emit('ws-error');
    assert.deepStrictEqual(await client.rec.take('exception'), [
      { status: 'error', message: 'room is full', cause: { pattern: 'ws-error' } },
    ]);
  });
});
