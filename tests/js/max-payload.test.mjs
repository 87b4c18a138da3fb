// Max payload: the server runs with MAX_PAYLOAD=10000 (bytes). A client that
// sends more gets its connection closed; everybody else keeps working.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { T, assertDeepEqualBinary, connect, connectMany, emitAck, forEachMode, useServer, waitEvent } from './helpers.mjs';

const srv = useServer({ MAX_PAYLOAD: '10000' });

const TRANSPORT_REASONS = ['transport close', 'transport error'];

forEachMode((mode) => {
  it('messages below the limit are accepted', T, async () => {
    const c = await connect(srv, mode);
    const text = 'y'.repeat(4_000);
    assert.deepStrictEqual(await emitAck(c.socket, 'echo', text), [text]);
    const bin = Buffer.alloc(3_000, 0xab);
    assertDeepEqualBinary(await emitAck(c.socket, 'echo', bin), [bin]);
  });

  for (const [label, payload] of [
    ['a 50 kB string', 'x'.repeat(50_000)],
    ['a 50 kB Buffer', Buffer.alloc(50_000, 0x5a)],
  ]) {
    it(`sending ${label} disconnects the sender only; other clients keep working`, T, async () => {
      const [offender, bystander] = await connectMany(srv, mode, 2);
      const gone = waitEvent(offender.socket, 'disconnect');
      offender.socket.emit('echo', payload);
      const [reason] = await gone;
      assert.ok(TRANSPORT_REASONS.includes(reason), `disconnect reason "${reason}" is a transport-level one`);
      assert.equal(offender.socket.connected, false);
      assert.equal(offender.rec.count('echo'), 0, 'the oversized message was not echoed');

      // after the incident: the other client is still fine ...
      assert.equal(bystander.socket.connected, true);
      assert.deepStrictEqual(await emitAck(bystander.socket, 'echo', 'still here'), ['still here']);
      bystander.socket.emit('echo', 'no-ack', 2);
      assert.deepStrictEqual(await bystander.rec.take('echo'), ['no-ack', 2]);
      // ... and new clients can connect
      const newcomer = await connect(srv, mode);
      assert.deepStrictEqual(await emitAck(newcomer.socket, 'echo', 'hello'), ['hello']);
    });
  }
});
