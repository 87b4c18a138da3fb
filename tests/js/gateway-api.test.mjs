// Gateway fixture (tests/src/bin/gateway_server.rs), namespace "/api": what a NestJS
// gateway does with the ack callback and emits beyond one argument, arguments by
// position, and the ValidationPipe's options (forbidNonWhitelisted, stopAtFirstError,
// disableErrorMessages, exceptionFactory), seen by the official client.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { T, WAIT_TIMEOUT, connect, forEachMode, useGatewayServer, waitEvent, withTimeout } from './helpers.mjs';

const srv = useGatewayServer();

function api(mode) {
  return connect(srv, mode, { nsp: '/api', welcome: false });
}

/** Emits with a callback and resolves with every argument the callback got. */
function callbackArgs(socket, event, ...args) {
  return withTimeout(
    new Promise((resolve) => socket.emit(event, ...args, (...got) => resolve(got))),
    WAIT_TIMEOUT,
    `ack of ${event}`,
  );
}

forEachMode((mode) => {
  it('Arguments((None, v)): the callback gets (null, v) — Node\'s error-first style', T, async () => {
    const { socket } = await api(mode);
    assert.deepStrictEqual(await callbackArgs(socket, 'double', 21), [null, 42]);
  });

  it('Arguments(()): the callback is called with no argument', T, async () => {
    const { socket } = await api(mode);
    assert.deepStrictEqual(await callbackArgs(socket, 'done'), []);
  });

  it('Arguments(vec): one callback argument per item, binary included', T, async () => {
    const { socket } = await api(mode);
    const got = await callbackArgs(socket, 'spread', [1, 'a', { b: [true] }, Buffer.from([7, 8])]);
    assert.equal(got.length, 4);
    assert.deepStrictEqual(got.slice(0, 3), [1, 'a', { b: [true] }]);
    assert.deepStrictEqual([...got[3]], [7, 8]);
    assert.deepStrictEqual(await callbackArgs(socket, 'spread', []), []);
  });

  it('WsResponse with Arguments: emits with no argument, or with several', T, async () => {
    const { socket } = await api(mode);
    const tick = waitEvent(socket, 'tick');
    socket.emit('tick');
    assert.deepStrictEqual(await tick, []);
    const pair = waitEvent(socket, 'pair');
    socket.emit('pair');
    assert.deepStrictEqual(await pair, [1, 'two']);
  });

  it('#[message_body(index = n)] reads each argument by its position', T, async () => {
    const { socket } = await api(mode);
    assert.deepStrictEqual(await callbackArgs(socket, 'move', 3, 4, { label: 'a' }), ['3,4,a']);
    assert.deepStrictEqual(await callbackArgs(socket, 'move', 3, 4), ['3,4,']);
  });

  it('forbid_non_whitelisted: "property x should not exist", named as sent', T, async () => {
    const { socket } = await api(mode);
    assert.deepStrictEqual(await callbackArgs(socket, 'strict', { displayName: 'ada', age: 3 }), ['ada']);
    const exception = waitEvent(socket, 'exception');
    socket.emit('strict', { displayName: 'ada', age: 3, isAdmin: true });
    const [payload] = await exception;
    assert.deepStrictEqual(payload, {
      status: 'error',
      message: 'Validation failed: isAdmin (whitelistValidation)',
      errors: [{ field: 'isAdmin', constraints: ['whitelistValidation'], messages: ['property isAdmin should not exist'] }],
    });
  });

  it('stop_at_first_error, disable_error_messages, exception_factory', T, async () => {
    const { socket } = await api(mode);
    const bad = { displayName: '', age: 200 };
    let exception = waitEvent(socket, 'exception');
    socket.emit('first-error', bad);
    let [payload] = await exception;
    assert.equal(payload.errors.length, 1);
    assert.equal(payload.errors[0].field, 'age');

    exception = waitEvent(socket, 'exception');
    socket.emit('quiet', bad);
    [payload] = await exception;
    assert.deepStrictEqual(payload, { status: 'error', message: 'Validation failed' });

    exception = waitEvent(socket, 'exception');
    socket.emit('factory', bad);
    [payload] = await exception;
    assert.deepStrictEqual(payload, { code: 'BAD_INPUT', fields: ['age', 'displayName'] });
  });
});
