// Connection state recovery with the official client (RECOVERY_MS=1500): a
// network cut mid-stream gives back the same socket id, `recovered === true`,
// the rooms, and every event emitted meanwhile exactly once and in order;
// volatile events and events for other rooms are not replayed; past the
// duration the client gets a fresh session.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  T,
  connect,
  delay,
  emitAck,
  forEachMode,
  relay,
  useServer,
  waitConnect,
  waitEvent,
} from './helpers.mjs';

const DURATION_MS = 1500;
const srv = useServer({ RECOVERY_MS: String(DURATION_MS) });

/** Waits until the server no longer lists socket `id` (it noticed the cut). */
async function serverDropped(observer, id) {
  for (let i = 0; i < 200; i++) {
    const [list] = await emitAck(observer.socket, 'fetch-sockets', null);
    if (!list.some((s) => s.id === id)) return;
    await delay(20);
  }
  assert.fail(`the server still lists ${id}`);
}

const values = (rec, event) => rec.all(event).map((args) => args[0]);

forEachMode((mode) => {
  const noReconnect = { opts: { reconnection: false } };

  it('a cut mid-stream: same id, recovered, rooms back, each missed event once and in order', T, async () => {
    const net = await relay(srv);
    const a = await connect(net, mode, noReconnect);
    assert.equal(a.socket.recovered, false);
    assert.equal(typeof a.rec.all('welcome')[0][1], 'string', 'events carry an offset');
    await emitAck(a.socket, 'join', 'r');
    const b = await connect(srv, mode);
    const id = a.socket.id;

    // 300 events to A's own socket; the cut comes while they arrive.
    const gone = waitEvent(a.socket, 'disconnect');
    a.socket.on('seq', (i) => {
      if (i === 40) net.cut();
    });
    await emitAck(a.socket, 'burst', { count: 300 }).catch(() => {});
    await gone;
    await serverDropped(b, id);

    // Emitted while A is away: to its room, to everyone but its room, volatile.
    for (let i = 0; i < 5; i++) {
      await emitAck(b.socket, 'broadcast', { to: ['r'], event: 'room', data: i });
    }
    await emitAck(b.socket, 'broadcast', { except: ['r'], event: 'others', data: 1 });
    await emitAck(b.socket, 'broadcast', { volatile: true, event: 'lossy', data: 1 });
    await emitAck(b.socket, 'broadcast', { to: [id], event: 'direct', data: 'x' });

    net.heal();
    a.socket.connect();
    await waitConnect(a.socket);
    assert.equal(a.socket.id, id);
    assert.equal(a.socket.recovered, true);
    assert.deepStrictEqual(await emitAck(a.socket, 'recovered'), [true]);
    const seq = values(a.rec, 'seq');
    assert.deepStrictEqual(seq, Array.from({ length: 300 }, (_, i) => i), `got ${seq.length}: ${seq.join(',')}`);
    assert.deepStrictEqual(values(a.rec, 'room'), [0, 1, 2, 3, 4]);
    assert.deepStrictEqual(values(a.rec, 'direct'), ['x']);
    assert.equal(a.rec.count('others'), 0);
    assert.equal(a.rec.count('lossy'), 0);
    const [rooms] = await emitAck(a.socket, 'rooms');
    assert.ok(rooms.includes('r') && rooms.includes(id), JSON.stringify(rooms));
    // It is in its room again: a new broadcast reaches it once.
    await emitAck(b.socket, 'broadcast', { to: ['r'], event: 'room', data: 5 });
    for (let i = 0; i < 6; i++) await a.rec.take('room');
    assert.deepStrictEqual(values(a.rec, 'room'), [0, 1, 2, 3, 4, 5]);
  });

  it('past max_disconnection_duration the client gets a fresh session', T, async () => {
    const net = await relay(srv);
    const a = await connect(net, mode, noReconnect);
    const b = await connect(srv, mode);
    const id = a.socket.id;
    const gone = waitEvent(a.socket, 'disconnect');
    net.cut();
    await gone;
    await serverDropped(b, id);
    await delay(DURATION_MS + 300);
    net.heal();
    a.socket.connect();
    await waitConnect(a.socket);
    assert.notEqual(a.socket.id, id);
    assert.equal(a.socket.recovered, false);
    assert.deepStrictEqual(await emitAck(a.socket, 'recovered'), [false]);
  });

  it('a client that disconnects on purpose is not recovered', T, async () => {
    const a = await connect(srv, mode, noReconnect);
    const id = a.socket.id;
    a.socket.disconnect();
    a.socket.connect();
    await waitConnect(a.socket);
    assert.notEqual(a.socket.id, id);
    assert.equal(a.socket.recovered, false);
  });
});

it('socket.io-client reconnecting by itself recovers (the official suite case)', T, async () => {
  const a = await connect(srv, { name: 'websocket', opts: { transports: ['websocket'] } }, {
    opts: { reconnection: true, reconnectionDelay: 10 },
  });
  const id = a.socket.id;
  a.socket.io.engine.close();
  await waitEvent(a.socket, 'connect');
  assert.equal(a.socket.id, id);
  assert.equal(a.socket.recovered, true);
});
