// "echo": acked when the client asks for an ack, otherwise emitted back as
// "echo". Payloads (JSON and binary) must round-trip exactly in both directions.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { T, assertDeepEqualBinary, connect, emitAck, forEachMode, toBuffer, useServer } from './helpers.mjs';

const srv = useServer();

const backing = new ArrayBuffer(32);
new Uint8Array(backing).forEach((_, i, a) => {
  a[i] = 200 + (i % 50);
});

/** [description, args] */
const CASES = [
  ['a single string', ['hello']],
  ['no arguments', []],
  ['several primitive arguments', [1, -2.5, 0, true, false, null, 'str']],
  ['numbers at the edges of f64 / safe integers', [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1.5e300, -1e-300, 0.1, 123456789.125]],
  [
    'unicode strings',
    [
      'héllo wörld',
      '日本語のテキスト',
      '😀🎉 emoji 👨‍👩‍👧‍👦 flags 🇫🇷',
      'RTL עברית عربي',
      'escapes: \u0000 nul \n newline \t tab "quotes" \\ backslash / slash \u2028\u2029',
      '',
    ],
  ],
  ['an empty object and an empty array', [{}, []]],
  ['an object with an empty object inside', [{ empty: {}, list: [{}], n: null }]],
  ['null alone', [null]],
  ['nested JSON structures', [{ a: { b: { c: [1, [2, [3, { d: 'e' }]]] } }, list: [null, true, 'x', -7] }]],
  ['a Buffer', [Buffer.from([0, 1, 2, 127, 128, 254, 255])]],
  ['an empty Buffer', [Buffer.alloc(0)]],
  ['all 256 byte values', [Buffer.from(Array.from({ length: 256 }, (_, i) => i))]],
  ['a Uint8Array view at an offset of a larger ArrayBuffer', [new Uint8Array(backing, 3, 7)]],
  ['an ArrayBuffer', [new Uint8Array([5, 4, 3, 2, 1]).buffer]],
  [
    'Buffers nested in objects and arrays',
    [
      { file: Buffer.from('abc'), meta: { parts: [Buffer.from([1]), Buffer.from([2, 3])], name: 'x' } },
      [Buffer.from([9]), 'mixed', { deep: [[Buffer.alloc(3, 7)]] }],
    ],
  ],
  ['several binary arguments mixed with JSON', [Buffer.from('first'), 42, { b: Buffer.from('second') }, 'end', Buffer.from('third')]],
  ['the same Buffer referenced twice', (() => {
    const b = Buffer.from('twice');
    return [{ x: b, y: b }, b];
  })()],
  ['an object that looks like a binary placeholder', [{ _placeholder: true, num: 0 }]],
  ['a 48 KiB random binary payload', [randomBytes(48 * 1024)]],
  // stays below a 100 kB max payload even base64/JSON encoded (the default of the server is not specified)
  ['a 60 kB string', ['s'.repeat(60_000)]],
];

forEachMode((mode) => {
  for (const [name, args] of CASES) {
    it(`round-trips ${name} (with ack)`, T, async () => {
      const c = await connect(srv, mode);
      const res = await emitAck(c.socket, 'echo', ...args);
      assertDeepEqualBinary(res, args);
      for (let i = 0; i < args.length; i += 1) {
        if (toBuffer(args[i])) assert.ok(toBuffer(res[i]), `ack arg ${i} is binary`);
      }
    });

    it(`round-trips ${name} (without ack: emitted back as "echo")`, T, async () => {
      const c = await connect(srv, mode);
      c.socket.emit('echo', ...args);
      const res = await c.rec.take('echo');
      assertDeepEqualBinary(res, args);
      for (let i = 0; i < args.length; i += 1) {
        if (toBuffer(args[i])) assert.ok(toBuffer(res[i]), `event arg ${i} is binary`);
      }
    });
  }

  it('answers many concurrent acks, each with its own arguments', T, async () => {
    const c = await connect(srv, mode);
    const n = 100;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => emitAck(c.socket, 'echo', i, { i, bin: Buffer.from([i & 255]) })),
    );
    results.forEach((res, i) => assertDeepEqualBinary(res, [i, { i, bin: Buffer.from([i & 255]) }]));
  });

  it('emits un-acked echoes back in order', T, async () => {
    const c = await connect(srv, mode);
    const n = 100;
    for (let i = 0; i < n; i += 1) {
      if (i % 3 === 0) c.socket.emit('echo', i, Buffer.from([i & 255]));
      else c.socket.emit('echo', i);
    }
    for (let i = 0; i < n; i += 1) {
      const res = await c.rec.take('echo');
      assertDeepEqualBinary(res, i % 3 === 0 ? [i, Buffer.from([i & 255])] : [i]);
    }
  });

  it('acked and un-acked echoes can be interleaved', T, async () => {
    const c = await connect(srv, mode);
    const acks = [];
    for (let i = 0; i < 20; i += 1) {
      c.socket.emit('echo', 'plain', i);
      acks.push(emitAck(c.socket, 'echo', 'acked', i));
    }
    const results = await Promise.all(acks);
    results.forEach((res, i) => assert.deepStrictEqual(res, ['acked', i]));
    for (let i = 0; i < 20; i += 1) assert.deepStrictEqual(await c.rec.take('echo'), ['plain', i]);
    assert.equal(c.rec.count('echo'), 20, 'acked echoes were not also emitted as events');
  });
});
