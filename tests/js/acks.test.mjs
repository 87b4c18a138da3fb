// Server-side acknowledgements:
// - "broadcast-with-ack": server emits "ask"(42) to targets with a timeout and
//   reports the sorted answers (or err "timeout" with the answers it got);
// - "emit-with-ack": server emits "question"(data) to the caller and reports
//   the caller's answer (or err "timeout").
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  T,
  assertDeepEqualBinary,
  barrier,
  connect,
  connectMany,
  emitAck,
  emitAckWithin,
  forEachMode,
  freshServer,
  sorted,
  uid,
  useServer,
} from './helpers.mjs';

const srv = useServer();

async function join(c, ...rooms) {
  for (const r of rooms) assert.deepStrictEqual(await emitAck(c.socket, 'join', r), ['ok']);
}

/** Makes `c` answer every "ask" with `name`, recording the args it was asked with. */
function answerAsks(c, name) {
  c.asked = [];
  c.socket.on('ask', (...args) => {
    const ack = args.pop();
    assert.equal(typeof ack, 'function', '"ask" expects an ack');
    c.asked.push(args);
    ack(name);
  });
}

/** Makes `c` receive "ask" without ever answering. */
function ignoreAsks(c) {
  c.asked = [];
  c.socket.on('ask', (...args) => {
    const ack = args.pop();
    assert.equal(typeof ack, 'function', '"ask" expects an ack');
    c.asked.push(args);
  });
}

async function broadcastWithAck(c, opts, waitMs = 5_000) {
  const res = await emitAckWithin(c.socket, opts.timeout_ms + waitMs, 'broadcast-with-ack', opts);
  assert.equal(res.length, 1, 'a single ack argument');
  return res[0];
}

async function emitWithAck(c, opts, waitMs = 5_000) {
  const res = await emitAckWithin(c.socket, opts.timeout_ms + waitMs, 'emit-with-ack', opts);
  assert.equal(res.length, 1, 'a single ack argument');
  return res[0];
}

forEachMode((mode) => {
  // ----- broadcast-with-ack -----------------------------------------------

  it('broadcast-with-ack to a room collects every answer (sorted)', T, async () => {
    const [caller, b, c, d] = await connectMany(srv, mode, 4);
    const room = uid('room');
    const names = { caller: uid('zz-caller'), b: uid('m-b'), c: uid('a-c'), d: uid('d') };
    answerAsks(caller, names.caller);
    answerAsks(b, names.b);
    answerAsks(c, names.c);
    answerAsks(d, names.d);
    await join(b, room);
    await join(c, room);
    const res = await broadcastWithAck(caller, { to: [room], timeout_ms: 3_000 });
    assert.deepStrictEqual(res, { responses: sorted([names.b, names.c]) });
    assert.deepStrictEqual(b.asked, [[42]], 'targets were asked once with 42');
    assert.deepStrictEqual(c.asked, [[42]]);
    await barrier(caller, d);
    assert.deepStrictEqual(caller.asked, [], 'the caller is not in the room');
    assert.deepStrictEqual(d.asked, [], 'non-targets are not asked');
  });

  it('broadcast-with-ack to several rooms asks a socket in both rooms once', T, async () => {
    const [caller, b, c] = await connectMany(srv, mode, 3);
    const [r1, r2] = [uid('r1'), uid('r2')];
    answerAsks(caller, 'caller');
    answerAsks(b, 'b');
    answerAsks(c, 'c');
    await join(b, r1, r2);
    await join(c, r2);
    const res = await broadcastWithAck(caller, { to: [r1, r2], timeout_ms: 3_000 });
    assert.deepStrictEqual(res, { responses: ['b', 'c'] });
    assert.deepStrictEqual(b.asked, [[42]]);
  });

  it('broadcast-with-ack reports "timeout" when a target never answers, with the answers received', T, async () => {
    const [caller, b, silent] = await connectMany(srv, mode, 3);
    const room = uid('room');
    answerAsks(b, 'b-answer');
    ignoreAsks(silent);
    await join(b, room);
    await join(silent, room);
    const startedAt = Date.now();
    const res = await broadcastWithAck(caller, { to: [room], timeout_ms: 500 });
    const elapsed = Date.now() - startedAt;
    assert.deepStrictEqual(res, { err: 'timeout', responses: ['b-answer'] });
    assert.ok(elapsed >= 400, `waited for the timeout (${elapsed} ms)`);
    assert.deepStrictEqual(silent.asked, [[42]], 'the silent socket was asked too');
    // everybody is still connected and working
    await barrier(caller, b, silent);
  });

  it('broadcast-with-ack reports "timeout" with no answers when nobody answers', T, async () => {
    const [caller, s1, s2] = await connectMany(srv, mode, 3);
    const room = uid('room');
    ignoreAsks(s1);
    ignoreAsks(s2);
    await join(s1, room);
    await join(s2, room);
    const res = await broadcastWithAck(caller, { to: [room], timeout_ms: 300 });
    assert.deepStrictEqual(res, { err: 'timeout', responses: [] });
  });

  it('broadcast-with-ack to an empty room answers with no responses', T, async () => {
    const [caller] = await connectMany(srv, mode, 1);
    const res = await broadcastWithAck(caller, { to: [uid('empty')], timeout_ms: 2_000 });
    assert.deepStrictEqual(res, { responses: [] });
  });

  it('broadcast-with-ack without "to" asks every socket of the namespace, the caller included', T, async () => {
    const server = await freshServer();
    const [caller, b, c] = await connectMany(server, mode, 3);
    const admin = await connect(server, mode, { nsp: '/admin', auth: { token: 'secret' } });
    answerAsks(caller, 'caller');
    answerAsks(b, 'b');
    answerAsks(c, 'c');
    answerAsks(admin, 'admin');
    const res = await broadcastWithAck(caller, { timeout_ms: 3_000 });
    assert.deepStrictEqual(res, { responses: sorted(['caller', 'b', 'c']) });
    await barrier(admin);
    assert.deepStrictEqual(admin.asked, [], 'other namespaces are not asked');
  });

  it('late answers after a broadcast-with-ack timeout are ignored', T, async () => {
    const [caller, late] = await connectMany(srv, mode, 2);
    const room = uid('room');
    const pending = [];
    late.socket.on('ask', (_n, ack) => pending.push(ack));
    await join(late, room);
    const res = await broadcastWithAck(caller, { to: [room], timeout_ms: 300 });
    assert.deepStrictEqual(res, { err: 'timeout', responses: [] });
    assert.equal(pending.length, 1);
    pending[0]('too late');
    await barrier(late, caller);
    assert.equal(late.socket.connected, true);
  });

  // ----- emit-with-ack ------------------------------------------------------

  it('emit-with-ack relays the client answer', T, async () => {
    const c = await connect(srv, mode);
    const questions = [];
    c.socket.on('question', (data, ack) => {
      questions.push(data);
      ack({ got: data, from: 'client' });
    });
    const data = { q: 'life', n: 42, list: [1, 'two'] };
    const res = await emitWithAck(c, { timeout_ms: 3_000, data });
    assert.deepStrictEqual(res, { answer: { got: data, from: 'client' } });
    assert.deepStrictEqual(questions, [data], '"question" was emitted once with the data');
  });

  it('emit-with-ack forwards binary question data byte-exact', T, async () => {
    const c = await connect(srv, mode);
    const data = { blob: Buffer.from([1, 2, 3, 0, 255]), parts: [Buffer.from('a'), Buffer.alloc(0)] };
    let received;
    c.socket.on('question', (q, ack) => {
      received = q;
      ack('thanks');
    });
    const res = await emitWithAck(c, { timeout_ms: 3_000, data });
    assert.deepStrictEqual(res, { answer: 'thanks' });
    assertDeepEqualBinary(received, data);
  });

  it('emit-with-ack relays a binary answer nested in objects and arrays', T, async () => {
    const c = await connect(srv, mode);
    const answer = { extra: Buffer.from('answer-bytes'), nested: [{ b: Buffer.from([7, 7]) }, Buffer.alloc(0)], s: 'x' };
    c.socket.on('question', (_q, ack) => ack(answer));
    const res = await emitWithAck(c, { timeout_ms: 3_000, data: { want: 'bytes' } });
    assertDeepEqualBinary(res, { answer });
  });

  it('emit-with-ack: binary question answered with the same bytes', T, async () => {
    const c = await connect(srv, mode);
    const blob = Buffer.from([0, 1, 2, 3, 254, 255]);
    c.socket.on('question', (q, ack) => ack(q));
    const res = await emitWithAck(c, { timeout_ms: 3_000, data: blob });
    assertDeepEqualBinary(res, { answer: blob });
  });

  it('emit-with-ack with a bare Buffer answer', T, async () => {
    const c = await connect(srv, mode);
    c.socket.on('question', (_q, ack) => ack(Buffer.from([9, 8, 7])));
    const res = await emitWithAck(c, { timeout_ms: 3_000, data: 'give me bytes' });
    assertDeepEqualBinary(res, { answer: Buffer.from([9, 8, 7]) });
  });

  it('emit-with-ack forwards only the first ack argument', T, async () => {
    const c = await connect(srv, mode);
    c.socket.on('question', (_q, ack) => ack('first', 'second', 3));
    const res = await emitWithAck(c, { timeout_ms: 3_000, data: 1 });
    assert.deepStrictEqual(res, { answer: 'first' });
  });

  it('emit-with-ack with a null answer', T, async () => {
    const c = await connect(srv, mode);
    c.socket.on('question', (_q, ack) => ack(null));
    const res = await emitWithAck(c, { timeout_ms: 3_000, data: null });
    assert.deepStrictEqual(res, { answer: null });
  });

  it('emit-with-ack reports "timeout" when the client does not answer', T, async () => {
    const c = await connect(srv, mode);
    let asked = 0;
    c.socket.on('question', () => {
      asked += 1;
    });
    const startedAt = Date.now();
    const res = await emitWithAck(c, { timeout_ms: 400, data: 'ignored' });
    assert.deepStrictEqual(res, { err: 'timeout' });
    assert.ok(Date.now() - startedAt >= 300, 'waited for the timeout');
    assert.equal(asked, 1);
  });

  it('a late answer after an emit-with-ack timeout is ignored and the socket stays healthy', T, async () => {
    const c = await connect(srv, mode);
    let lateAck;
    c.socket.on('question', (_q, ack) => {
      lateAck = ack;
    });
    const res = await emitWithAck(c, { timeout_ms: 300, data: 'slow' });
    assert.deepStrictEqual(res, { err: 'timeout' });
    lateAck('too late');
    await barrier(c);
    assert.equal(c.socket.connected, true);
    // and a following emit-with-ack still works
    c.socket.off('question');
    c.socket.on('question', (q, ack) => ack(`re: ${q}`));
    assert.deepStrictEqual(await emitWithAck(c, { timeout_ms: 3_000, data: 'again' }), { answer: 're: again' });
  });

  it('concurrent emit-with-ack calls are matched with their own answers', T, async () => {
    const c = await connect(srv, mode);
    c.socket.on('question', (q, ack) => ack(q * 2));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => emitWithAck(c, { timeout_ms: 3_000, data: i })),
    );
    assert.deepStrictEqual(
      results,
      Array.from({ length: 20 }, (_, i) => ({ answer: i * 2 })),
    );
  });
});
