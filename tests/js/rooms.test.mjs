// "join", "leave" and "rooms" on "/".
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { T, connect, emitAck, forEachMode, sorted, uid, useServer } from './helpers.mjs';

const srv = useServer();

async function rooms(c) {
  const res = await emitAck(c.socket, 'rooms');
  assert.equal(res.length, 1, '"rooms" acks with a single argument');
  assert.ok(Array.isArray(res[0]), '"rooms" acks with an array');
  return res[0];
}

async function join(c, room) {
  assert.deepStrictEqual(await emitAck(c.socket, 'join', room), ['ok']);
}

async function leave(c, room) {
  assert.deepStrictEqual(await emitAck(c.socket, 'leave', room), ['ok']);
}

forEachMode((mode) => {
  it('a new socket is only in its own room', T, async () => {
    const c = await connect(srv, mode);
    assert.deepStrictEqual(await rooms(c), [c.id]);
  });

  it('join acks "ok" and the room shows up in sorted "rooms"', T, async () => {
    const c = await connect(srv, mode);
    const base = uid('r');
    const names = [`${base}-zeta`, `${base}-Alpha`, `${base}-mid`, `0-${base}`, `_${base}`, `~${base}`];
    for (const r of names) await join(c, r);
    assert.deepStrictEqual(await rooms(c), sorted([c.id, ...names]));
  });

  it('joining twice is idempotent', T, async () => {
    const c = await connect(srv, mode);
    const r = uid('r');
    await join(c, r);
    await join(c, r);
    assert.deepStrictEqual(await rooms(c), sorted([c.id, r]));
  });

  it('leave acks "ok" and removes only that room', T, async () => {
    const c = await connect(srv, mode);
    const [a, b] = [uid('a'), uid('b')];
    await join(c, a);
    await join(c, b);
    await leave(c, a);
    assert.deepStrictEqual(await rooms(c), sorted([c.id, b]));
    await leave(c, b);
    assert.deepStrictEqual(await rooms(c), [c.id]);
  });

  it('leaving a room the socket is not in acks "ok" and changes nothing', T, async () => {
    const c = await connect(srv, mode);
    const r = uid('r');
    await join(c, r);
    await leave(c, uid('never-joined'));
    assert.deepStrictEqual(await rooms(c), sorted([c.id, r]));
  });

  it('room names with unicode are kept verbatim', T, async () => {
    const c = await connect(srv, mode);
    const r = `${uid('salle')}-é-日本-😀`;
    await join(c, r);
    assert.deepStrictEqual(await rooms(c), sorted([c.id, r]));
    await leave(c, r);
    assert.deepStrictEqual(await rooms(c), [c.id]);
  });

  it('rooms are per socket', T, async () => {
    const [a, b] = await Promise.all([connect(srv, mode), connect(srv, mode)]);
    const [shared, onlyA] = [uid('shared'), uid('only-a')];
    await join(a, shared);
    await join(b, shared);
    await join(a, onlyA);
    assert.deepStrictEqual(await rooms(a), sorted([a.id, shared, onlyA]));
    assert.deepStrictEqual(await rooms(b), sorted([b.id, shared]));
    await leave(a, shared);
    assert.deepStrictEqual(await rooms(a), sorted([a.id, onlyA]));
    assert.deepStrictEqual(await rooms(b), sorted([b.id, shared]));
  });

  it('a reconnected socket starts with a fresh set of rooms', T, async () => {
    const c = await connect(srv, mode);
    const r = uid('r');
    await join(c, r);
    const oldId = c.id;
    c.socket.disconnect();
    const c2 = await connect(srv, mode);
    assert.notEqual(c2.id, oldId);
    assert.deepStrictEqual(await rooms(c2), [c2.id]);
  });
});
