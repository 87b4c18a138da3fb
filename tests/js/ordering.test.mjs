// Ordering and loss: "burst" ({count}) makes the server emit "seq" 0..count-1
// in a loop and then ack "done"; everything must arrive, in order, before the ack.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createSocket, emitAckWithin, expectUpgraded, forEachMode, Recorder, ready, useServer } from './helpers.mjs';

const srv = useServer();

const BURST_TIMEOUT = { timeout: 30_000 };

function range(n) {
  return Array.from({ length: n }, (_, i) => i);
}

function seqs(rec) {
  return rec.all('seq').map((args) => {
    assert.equal(args.length, 1, '"seq" carries one argument');
    return args[0];
  });
}

async function burst(c, count) {
  assert.deepStrictEqual(await emitAckWithin(c.socket, 20_000, 'burst', { count }), ['done']);
  // the server emitted every "seq" before acking on the same connection
  const got = seqs(c.rec);
  assert.equal(got.length, count, `received ${got.length} of ${count} "seq" events before the ack`);
  assert.deepStrictEqual(got, range(count), '"seq" events in strict order, none lost or duplicated');
}

forEachMode((mode) => {
  it('a burst of 2000 events arrives complete and in order before the ack', BURST_TIMEOUT, async () => {
    // in upgrade mode the burst starts right away, so it may straddle the upgrade
    const socket = createSocket(srv, mode);
    const rec = new Recorder(socket);
    const c = await ready(socket, rec, mode, { waitUpgrade: false });
    await burst(c, 2000);
    if (mode.upgrade) await expectUpgraded(c.socket.io);
    assert.deepStrictEqual(await emitAckWithin(c.socket, 5_000, 'echo', 'after'), ['after']);
  });

  it('a burst of 2000 events after the connection is settled', BURST_TIMEOUT, async () => {
    const c = await connect(srv, mode);
    await burst(c, 2000);
  });

  it('two sockets bursting at the same time each get exactly their own sequence', BURST_TIMEOUT, async () => {
    const [a, b] = await Promise.all([connect(srv, mode), connect(srv, mode)]);
    await Promise.all([burst(a, 1000), burst(b, 1500)]);
  });

  it('consecutive bursts on one socket keep the global order', BURST_TIMEOUT, async () => {
    const c = await connect(srv, mode);
    assert.deepStrictEqual(await emitAckWithin(c.socket, 20_000, 'burst', { count: 300 }), ['done']);
    assert.deepStrictEqual(await emitAckWithin(c.socket, 20_000, 'burst', { count: 200 }), ['done']);
    assert.deepStrictEqual(seqs(c.rec), [...range(300), ...range(200)]);
  });

  it('a burst of 0 events just acks', BURST_TIMEOUT, async () => {
    const c = await connect(srv, mode);
    assert.deepStrictEqual(await emitAckWithin(c.socket, 5_000, 'burst', { count: 0 }), ['done']);
    assert.equal(c.rec.count('seq'), 0);
  });
});
