// "broadcast" (opts, ack): to / except / from_socket / local / volatile.
//
// The server acks "done" only after the broadcast packets were queued, so:
// - the sender has received its own copy (if targeted) once it has the ack;
// - for any other socket, a round trip on its own connection (barrier) after
//   that ack guarantees that a copy queued for it has arrived, which makes the
//   "did not receive" assertions deterministic.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  T,
  WAIT_TIMEOUT,
  assertDeepEqualBinary,
  barrier,
  connect,
  connectMany,
  emitAck,
  forEachMode,
  uid,
  useServer,
} from './helpers.mjs';

const srv = useServer();

async function join(c, ...rooms) {
  for (const r of rooms) assert.deepStrictEqual(await emitAck(c.socket, 'join', r), ['ok']);
}

/** Sends "broadcast" from `c`; resolves once acked "done". */
async function broadcast(c, { to, except, from_socket = false, local = false, volatile = false, event, data }) {
  const opts = { from_socket, local, volatile, event, data };
  if (to !== undefined) opts.to = to;
  if (except !== undefined) opts.except = except;
  assert.deepStrictEqual(await emitAck(c.socket, 'broadcast', opts), ['done']);
}

/**
 * After a broadcast acked to `sender`, checks that exactly `receivers` got
 * `event` exactly once with [data], and `others` did not get it at all.
 */
async function expectDelivery(sender, event, data, receivers, others) {
  for (const r of receivers) {
    if (r === sender) {
      assert.equal(r.rec.count(event), 1, 'the sender has its copy as soon as it has the ack');
    }
    assertDeepEqualBinary(await r.rec.take(event), [data]);
  }
  await barrier(...receivers, ...others);
  for (const r of receivers) assert.equal(r.rec.count(event), 1, `receiver ${r.id} got "${event}" exactly once`);
  for (const o of others) assert.equal(o.rec.count(event), 0, `non-target ${o.id} did not get "${event}"`);
}

forEachMode((mode) => {
  it('to one room, from the namespace: every member (sender included) gets it, others not', T, async () => {
    const [a, b, c] = await connectMany(srv, mode, 3);
    const room = uid('room');
    await join(a, room);
    await join(b, room);
    const event = uid('evt');
    const data = { hello: 'room', n: 1 };
    await broadcast(a, { to: [room], event, data });
    await expectDelivery(a, event, data, [a, b], [c]);
  });

  it('to two rooms: a socket in both rooms gets it once', T, async () => {
    const [a, b, c, d] = await connectMany(srv, mode, 4);
    const [r1, r2] = [uid('r1'), uid('r2')];
    await join(a, r1, r2);
    await join(b, r2);
    await join(c, r1);
    const event = uid('evt');
    const data = ['two', 'rooms'];
    await broadcast(d, { to: [r1, r2], event, data });
    await expectDelivery(d, event, data, [a, b, c], [d]);
  });

  it('except: sockets in an excluded room do not get it', T, async () => {
    const [a, b, c, d] = await connectMany(srv, mode, 4);
    const [room, muted] = [uid('room'), uid('muted')];
    await join(a, room);
    await join(b, room, muted);
    await join(c, room);
    await join(d, muted);
    const event = uid('evt');
    await broadcast(a, { to: [room], except: [muted], event, data: 'except' });
    await expectDelivery(a, event, 'except', [a, c], [b, d]);
  });

  it('except without "to": everyone in the namespace but the excluded rooms', T, async () => {
    const [a, b, c] = await connectMany(srv, mode, 3);
    const muted = uid('muted');
    await join(b, muted);
    const event = uid('evt');
    await broadcast(a, { except: [muted], event, data: 42 });
    await expectDelivery(a, event, 42, [a, c], [b]);
  });

  it('from_socket: the sender is excluded even when it is in the room', T, async () => {
    const [a, b, c] = await connectMany(srv, mode, 3);
    const room = uid('room');
    await join(a, room);
    await join(b, room);
    const event = uid('evt');
    await broadcast(a, { to: [room], from_socket: true, event, data: { from: 'socket' } });
    await expectDelivery(a, event, { from: 'socket' }, [b], [a, c]);
  });

  it('from_socket with except', T, async () => {
    const [a, b, c, d] = await connectMany(srv, mode, 4);
    const [room, muted] = [uid('room'), uid('muted')];
    await join(a, room);
    await join(b, room);
    await join(c, room, muted);
    const event = uid('evt');
    await broadcast(a, { to: [room], except: [muted], from_socket: true, event, data: null });
    await expectDelivery(a, event, null, [b], [a, c, d]);
  });

  it('namespace-wide (no "to") from the namespace: everyone, sender included', T, async () => {
    const [a, b, c] = await connectMany(srv, mode, 3);
    const admin = await connect(srv, mode, { nsp: '/admin', auth: { token: 'secret' } });
    const event = uid('evt');
    await broadcast(a, { event, data: 'all' });
    await expectDelivery(a, event, 'all', [a, b, c], [admin]);
  });

  it('namespace-wide (no "to") from the socket: everyone but the sender', T, async () => {
    const [a, b, c] = await connectMany(srv, mode, 3);
    const event = uid('evt');
    await broadcast(a, { from_socket: true, event, data: 'all-but-me' });
    await expectDelivery(a, event, 'all-but-me', [b, c], [a]);
  });

  it('local: delivered like a normal broadcast on a single node', T, async () => {
    const [a, b, c] = await connectMany(srv, mode, 3);
    const room = uid('room');
    await join(b, room);
    await join(c, room);
    const event = uid('evt');
    await broadcast(a, { to: [room], local: true, event, data: { local: true } });
    await expectDelivery(a, event, { local: true }, [b, c], [a]);
    const event2 = uid('evt');
    await broadcast(a, { local: true, from_socket: true, event: event2, data: 'local-all' });
    await expectDelivery(a, event2, 'local-all', [b, c], [a]);
  });

  it('volatile: arrives on an idle, healthy connection', T, async () => {
    const [a, b] = await connectMany(srv, mode, 2);
    const room = uid('room');
    await join(b, room);
    // let b's connection be idle (pending poll / open websocket) before sending
    await barrier(b);
    const event = uid('evt');
    // volatile packets may legitimately be dropped when the transport is not
    // writable at that instant; retry a few times, one arrival is enough.
    let received = null;
    for (let attempt = 0; attempt < 3 && !received; attempt += 1) {
      await broadcast(a, { to: [room], volatile: true, event, data: { volatile: attempt } });
      try {
        received = await b.rec.take(event, { timeout: Math.min(1_500, WAIT_TIMEOUT) });
      } catch {
        /* dropped: try again */
      }
    }
    assert.ok(received, 'a volatile broadcast reached an idle receiver');
    assert.equal(typeof received[0].volatile, 'number');
    await barrier(a);
    assert.equal(a.rec.count(event), 0, 'sender is not in the room');
  });

  it('volatile combined with from_socket and to', T, async () => {
    const [a, b] = await connectMany(srv, mode, 2);
    const room = uid('room');
    await join(a, room);
    await join(b, room);
    await barrier(b);
    const event = uid('evt');
    let received = null;
    for (let attempt = 0; attempt < 3 && !received; attempt += 1) {
      await broadcast(a, { to: [room], from_socket: true, volatile: true, event, data: 'v' });
      try {
        received = await b.rec.take(event, { timeout: Math.min(1_500, WAIT_TIMEOUT) });
      } catch {
        /* dropped: try again */
      }
    }
    assert.deepStrictEqual(received, ['v']);
    assert.equal(a.rec.count(event), 0, 'from_socket excludes the sender');
  });

  it('binary data is delivered byte-exact to every target', T, async () => {
    const [a, b, c] = await connectMany(srv, mode, 3);
    const room = uid('room');
    await join(b, room);
    await join(c, room);
    const event = uid('evt');
    const data = { bin: Buffer.from([0, 255, 1, 254]), list: [Buffer.from('nested'), { deeper: Buffer.alloc(0) }], s: 'x' };
    await broadcast(a, { to: [room], event, data });
    await expectDelivery(a, event, data, [b, c], [a]);
  });

  it('to a room nobody is in: acked "done", nobody receives', T, async () => {
    const [a, b] = await connectMany(srv, mode, 2);
    const event = uid('evt');
    await broadcast(a, { to: [uid('empty')], event, data: 'nobody' });
    await expectDelivery(a, event, 'nobody', [], [a, b]);
  });

  it('a socket that left the room no longer receives', T, async () => {
    const [a, b, c] = await connectMany(srv, mode, 3);
    const room = uid('room');
    await join(b, room);
    await join(c, room);
    assert.deepStrictEqual(await emitAck(c.socket, 'leave', room), ['ok']);
    const event = uid('evt');
    await broadcast(a, { to: [room], event, data: 'after-leave' });
    await expectDelivery(a, event, 'after-leave', [b], [a, c]);
  });

  it('successive broadcasts keep their order for each receiver', T, async () => {
    const [a, b, c] = await connectMany(srv, mode, 3);
    const room = uid('room');
    await join(b, room);
    await join(c, room);
    const event = uid('evt');
    await Promise.all(Array.from({ length: 30 }, (_, i) => broadcast(a, { to: [room], event, data: i })));
    await barrier(b, c);
    for (const r of [b, c]) {
      assert.deepStrictEqual(
        r.rec.all(event).map((args) => args[0]),
        Array.from({ length: 30 }, (_, i) => i),
      );
    }
  });
});
