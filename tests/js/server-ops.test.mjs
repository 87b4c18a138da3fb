// Namespace-level operations on "/": "fetch-sockets", "sockets-join",
// "sockets-leave", "disconnect-sockets".
// Tests using the `null` room (= every socket of "/") run on a fresh server so
// that no socket of another test is around.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  T,
  barrier,
  byteCompare,
  connect,
  connectMany,
  emitAck,
  forEachMode,
  freshServer,
  sorted,
  uid,
  useServer,
  waitEvent,
} from './helpers.mjs';

const srv = useServer();

async function join(c, ...rooms) {
  for (const r of rooms) assert.deepStrictEqual(await emitAck(c.socket, 'join', r), ['ok']);
}

async function fetchSockets(c, room) {
  const res = await emitAck(c.socket, 'fetch-sockets', room);
  assert.equal(res.length, 1, 'a single ack argument');
  assert.ok(Array.isArray(res[0]), 'an array of sockets');
  return res[0];
}

/** Expected fetch-sockets entry list for [client, ...rooms other than its own]. */
function expectedSockets(entries) {
  return entries
    .map(([c, rooms]) => ({ id: c.id, rooms: sorted([c.id, ...rooms]) }))
    .sort((x, y) => byteCompare(x.id, y.id));
}

async function rooms(c) {
  const [r] = await emitAck(c.socket, 'rooms');
  return r;
}

forEachMode((mode) => {
  // ----- fetch-sockets ------------------------------------------------------

  it('fetch-sockets(room) lists the sockets of the room with their sorted rooms, sorted by id', T, async () => {
    const [a, b, c, caller] = await connectMany(srv, mode, 4);
    const [room, x, y] = [uid('room'), uid('x'), uid('y')];
    await join(a, room, x);
    await join(b, y, room);
    await join(c, x);
    const list = await fetchSockets(caller, room);
    assert.deepStrictEqual(list, expectedSockets([[a, [room, x]], [b, [room, y]]]));
  });

  it('fetch-sockets(room) includes the caller when it is in the room', T, async () => {
    const [caller, b] = await connectMany(srv, mode, 2);
    const room = uid('room');
    await join(caller, room);
    await join(b, room);
    assert.deepStrictEqual(await fetchSockets(caller, room), expectedSockets([[caller, [room]], [b, [room]]]));
  });

  it('fetch-sockets(own socket id) finds just that socket', T, async () => {
    const [a, caller] = await connectMany(srv, mode, 2);
    assert.deepStrictEqual(await fetchSockets(caller, a.id), expectedSockets([[a, []]]));
  });

  it('fetch-sockets on an unknown room is empty', T, async () => {
    const [caller] = await connectMany(srv, mode, 1);
    assert.deepStrictEqual(await fetchSockets(caller, uid('nobody')), []);
  });

  it('fetch-sockets(null) lists every socket of the namespace', T, async () => {
    const server = await freshServer();
    const [a, b, caller] = await connectMany(server, mode, 3);
    await connect(server, mode, { nsp: '/admin', auth: { token: 'secret' } });
    await connect(server, mode, { nsp: '/dyn-5', welcome: false });
    const room = uid('room');
    await join(a, room);
    assert.deepStrictEqual(
      await fetchSockets(caller, null),
      expectedSockets([[a, [room]], [b, []], [caller, []]]),
    );
  });

  it('fetch-sockets(null) no longer lists a socket the server disconnected', T, async () => {
    const server = await freshServer();
    const [a, b, caller] = await connectMany(server, mode, 3);
    const gone = waitEvent(b.socket, 'disconnect');
    b.socket.emit('disconnect-me', false);
    await gone;
    assert.deepStrictEqual(await fetchSockets(caller, null), expectedSockets([[a, []], [caller, []]]));
  });

  // ----- sockets-join / sockets-leave ---------------------------------------

  it('sockets-join({room, target}) makes the sockets of room join target', T, async () => {
    const [a, b, c, caller] = await connectMany(srv, mode, 4);
    const [room, target] = [uid('room'), uid('target')];
    await join(a, room);
    await join(b, room);
    assert.deepStrictEqual(await emitAck(caller.socket, 'sockets-join', { room, target }), ['ok']);
    assert.deepStrictEqual(await fetchSockets(caller, target), expectedSockets([[a, [room, target]], [b, [room, target]]]));
    assert.deepStrictEqual(await rooms(a), sorted([a.id, room, target]));
    assert.deepStrictEqual(await rooms(c), [c.id]);
    assert.deepStrictEqual(await rooms(caller), [caller.id]);
  });

  it('sockets-join({room: null, target}) makes every socket join target', T, async () => {
    const server = await freshServer();
    const [a, b, caller] = await connectMany(server, mode, 3);
    const target = uid('target');
    assert.deepStrictEqual(await emitAck(caller.socket, 'sockets-join', { room: null, target }), ['ok']);
    assert.deepStrictEqual(
      await fetchSockets(caller, target),
      expectedSockets([[a, [target]], [b, [target]], [caller, [target]]]),
    );
  });

  it('sockets-leave({room, target}) makes the sockets of room leave target', T, async () => {
    const [a, b, c, caller] = await connectMany(srv, mode, 4);
    const [room, target] = [uid('room'), uid('target')];
    await join(a, room, target);
    await join(b, room, target);
    await join(c, target);
    assert.deepStrictEqual(await emitAck(caller.socket, 'sockets-leave', { room, target }), ['ok']);
    assert.deepStrictEqual(await fetchSockets(caller, target), expectedSockets([[c, [target]]]));
    assert.deepStrictEqual(await rooms(a), sorted([a.id, room]));
    assert.deepStrictEqual(await rooms(b), sorted([b.id, room]));
  });

  it('sockets-leave({room: null, target}) makes every socket leave target', T, async () => {
    const server = await freshServer();
    const [a, b, caller] = await connectMany(server, mode, 3);
    const [target, keep] = [uid('target'), uid('keep')];
    for (const c of [a, b, caller]) await join(c, target, keep);
    assert.deepStrictEqual(await emitAck(caller.socket, 'sockets-leave', { room: null, target }), ['ok']);
    assert.deepStrictEqual(await fetchSockets(caller, target), []);
    assert.deepStrictEqual(
      await fetchSockets(caller, keep),
      expectedSockets([[a, [keep]], [b, [keep]], [caller, [keep]]]),
    );
  });

  // ----- disconnect-sockets -------------------------------------------------

  for (const close of [false, true]) {
    it(`disconnect-sockets({room, close: ${close}}) disconnects the sockets of the room`, T, async () => {
      const [a, b, bystander, caller] = await connectMany(srv, mode, 4);
      const room = uid('room');
      await join(a, room);
      await join(b, room);
      const reasons = Promise.all([a, b].map((c) => waitEvent(c.socket, 'disconnect')));
      assert.deepStrictEqual(await emitAck(caller.socket, 'disconnect-sockets', { room, close }), ['ok']);
      for (const [reason] of await reasons) assert.equal(reason, 'io server disconnect');
      assert.equal(a.socket.connected, false);
      assert.equal(a.socket.active, false, 'no automatic reconnection after a server disconnect');
      await barrier(caller, bystander);
      assert.equal(caller.socket.connected, true);
      assert.equal(bystander.socket.connected, true);
      assert.deepStrictEqual(await fetchSockets(caller, room), [], 'disconnected sockets left their rooms');
    });

    it(`disconnect-sockets({room, close: ${close}}) acks the caller before disconnecting it`, T, async () => {
      const [caller, b] = await connectMany(srv, mode, 2);
      const room = uid('room');
      await join(caller, room);
      await join(b, room);
      const order = [];
      const callerGone = waitEvent(caller.socket, 'disconnect');
      const bGone = waitEvent(b.socket, 'disconnect');
      caller.socket.once('disconnect', () => order.push('disconnect'));
      caller.socket.emit('disconnect-sockets', { room, close }, (...ack) => order.push(['ack', ...ack]));
      const [[reason], [bReason]] = await Promise.all([callerGone, bGone]);
      assert.equal(reason, 'io server disconnect');
      assert.equal(bReason, 'io server disconnect');
      assert.deepStrictEqual(order, [['ack', 'ok'], 'disconnect']);
    });

    it(`disconnect-sockets({room: null, close: ${close}}) disconnects every socket of "/" only`, T, async () => {
      const server = await freshServer();
      const [a, b, caller] = await connectMany(server, mode, 3);
      const admin = await connect(server, mode, { nsp: '/admin', auth: { token: 'secret' } });
      const gone = Promise.all([a, b, caller].map((c) => waitEvent(c.socket, 'disconnect')));
      const ack = new Promise((resolve) => caller.socket.emit('disconnect-sockets', { room: null, close }, resolve));
      for (const [reason] of await gone) assert.equal(reason, 'io server disconnect');
      assert.equal(await ack, 'ok');
      await barrier(admin);
      assert.equal(admin.socket.connected, true, 'sockets of other namespaces are untouched');
      // the server still accepts connections
      const fresh = await connect(server, mode);
      assert.deepStrictEqual(await fetchSockets(fresh, null), expectedSockets([[fresh, []]]));
    });
  }
});
