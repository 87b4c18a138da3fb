// Bad input against the conformance server (examples/conformance.rs), at the
// wire level. Every case runs on its own connection while healthy connections
// (a websocket and a polling session on /engine.io/, a Socket.IO socket on
// /socket.io/) stay open: the offending connection must be closed (websocket
// close, or its sid unknown afterwards), the bystanders must still answer, and
// the process must still be alive and accept new sessions.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONFORMANCE,
  PollingClient,
  SEP,
  T,
  assertEngineError,
  assertServerAlive,
  eioUrl,
  openBystanders,
  pollingHandshake,
  rawRequest,
  sioWsConnect,
  useConformanceServer,
  wsHandshake,
} from './helpers.mjs';

const srv = useConformanceServer();

const EIO = '/engine.io/';
const SIO = '/socket.io/';

function sidUrl(path, sid) {
  return eioUrl(srv, path, { transport: 'polling', sid });
}

/** Opens the bystanders, runs `offend()`, then checks the bystanders and the process. */
async function withBystanders(offend) {
  const bystanders = await openBystanders(srv);
  await offend();
  await bystanders.check();
  await assertServerAlive(srv);
}

/**
 * Sends `frames` (strings = text frames, Buffers = binary frames, [data, opts] =
 * ws.send(data, opts)) and asserts the server closes that websocket, without
 * answering (unless `replies` lists what may come first), and that its sid is
 * unknown afterwards.
 */
async function sendAndExpectClose(ws, sid, path, frames, { replies = [] } = {}) {
  for (const f of frames) {
    if (Array.isArray(f)) ws.send(...f);
    else ws.send(f);
  }
  await ws.waitClosed(3_000);
  const got = ws.queue.filter((m) => m !== '2');
  assert.deepStrictEqual(got, replies, 'what the server sent before closing');
  assertEngineError(await rawRequest(sidUrl(path, sid)), 400, 1, 'Session ID unknown');
}

const bin = (...bytes) => Buffer.from(bytes);
const bigString = (n) => 'x'.repeat(n);

// ---------------------------------------------------------------------------
// /engine.io/ over websocket
// ---------------------------------------------------------------------------

describe('/engine.io/ websocket garbage', () => {
  const cases = [
    ['an unknown packet type "xyz"', ['xyz']],
    ['an unknown packet type "9"', ['9']],
    ['an unknown packet type "7"', ['7']],
    ['an empty text frame', ['']],
    ['a text frame with invalid UTF-8', [[bin(0x34, 0xff, 0xfe), { binary: false }]]],
    [`a 1.1 MB text message (maxPayload ${CONFORMANCE.maxPayload})`, [`4${bigString(1_100_000)}`]],
    ['a 1.1 MB binary message', [Buffer.alloc(1_100_000, 7)]],
  ];
  for (const [label, frames] of cases) {
    it(`${label} closes that websocket only`, T, async () => {
      await withBystanders(async () => {
        const { ws, sid } = await wsHandshake(srv, EIO, { autoPong: true });
        await sendAndExpectClose(ws, sid, EIO, frames);
      });
    });
  }
});

// ---------------------------------------------------------------------------
// /engine.io/ over polling
// ---------------------------------------------------------------------------

describe('/engine.io/ polling garbage', () => {
  const cases = [
    ['invalid base64 "bxyz!!"', 'bxyz!!'],
    ['an empty body', ''],
    ['non-UTF-8 bytes', bin(0x34, 0xff, 0xfe, 0x34)],
    ['an unknown packet type "abc"', 'abc'],
    ['a bad packet between good ones', `4a${SEP}x${SEP}4b`],
    ['an empty packet after a good one', `4a${SEP}`],
  ];
  for (const [label, body] of cases) {
    it(`a POST with ${label} is refused and ends that session only`, T, async () => {
      await withBystanders(async () => {
        const { sid } = await pollingHandshake(srv, EIO);
        const res = await rawRequest(sidUrl(EIO, sid), { method: 'POST', body });
        assertEngineError(res, 400, 3, 'Bad request');
        assertEngineError(await rawRequest(sidUrl(EIO, sid)), 400, 1, 'Session ID unknown');
      });
    });
  }

  it('a POST with invalid base64 while a GET is parked: the GET gets "1", the sid is then unknown', T, async () => {
    await withBystanders(async () => {
      const { sid } = await pollingHandshake(srv, EIO);
      const parked = rawRequest(sidUrl(EIO, sid));
      await new Promise((r) => setTimeout(r, 50));
      assertEngineError(await rawRequest(sidUrl(EIO, sid), { method: 'POST', body: 'bxyz!!' }), 400, 3, 'Bad request');
      const released = await parked;
      assert.equal(released.status, 200);
      assert.equal(released.text, '1');
      assertEngineError(await rawRequest(sidUrl(EIO, sid)), 400, 1, 'Session ID unknown');
    });
  });
});

// ---------------------------------------------------------------------------
// /socket.io/ over websocket
// ---------------------------------------------------------------------------

describe('/socket.io/ websocket garbage after CONNECT', () => {
  const cases = [
    ['an empty Socket.IO packet "4"', ['4']],
    ['an unknown Socket.IO packet type "4abc"', ['4abc']],
    ['an unknown Socket.IO packet type "47"', ['47']],
    ['an unknown Socket.IO packet type "49"', ['49']],
    ['an engine-level garbage frame "xyz"', ['xyz']],
    ['invalid JSON "42{invalid json"', ['42{invalid json']],
    ['truncated JSON', ['42["message",']],
    ['an object as EVENT payload', ['42{}']],
    ['an empty EVENT array', ['42[]']],
    ['a string as EVENT payload', ['42"message"']],
    ['an object as event name', ['42[{},1]']],
    ['an invalid ack id "42abc[...]"', ['42abc["message-with-ack",1]']],
    ['a CONNECT_ERROR from the client', ['44{"message":"x"}']],
    ['a CONNECT with a string payload', ['40/custom,"str"']],
    ['a CONNECT with an array payload', ['40/custom,[1]']],
    ['a text frame with invalid UTF-8', [[bin(0x34, 0x32, 0xff, 0xfe), { binary: false }]]],
    [`a 1.1 MB event (maxPayload ${CONFORMANCE.maxPayload})`, [`42["message","${bigString(1_100_000)}"]`]],
  ];
  for (const name of ['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']) {
    cases.push([`the reserved event name 42["${name}"]`, [`42["${name}"]`]]);
  }
  cases.push(
    ['a huge ACK id "43999999999999999999999[]"', ['43999999999999999999999[]']],
    ['a huge EVENT ack id', ['42999999999999999999999["message-with-ack",1]']],
    ['an EVENT ack id of 2^64', ['4218446744073709551616["message-with-ack",1]']],
  );
  for (const [label, frames] of cases) {
    it(`${label} closes that connection only`, T, async () => {
      await withBystanders(async () => {
        const { ws, engineSid } = await sioWsConnect(srv);
        await sendAndExpectClose(ws, engineSid, SIO, frames);
      });
    });
  }

  it('an ACK for an id the server never used is ignored (the connection stays up)', T, async () => {
    await withBystanders(async () => {
      const { ws } = await sioWsConnect(srv);
      ws.send('4399[1]');
      ws.send('42["message","after"]');
      assert.equal(await ws.next(), '42["message-back","after"]');
    });
  });
});

describe('/socket.io/ binary attachments that do not add up', () => {
  const placeholder = (n) => `{"_placeholder":true,"num":${n}}`;
  const cases = [
    ['a binary frame while no binary packet announced attachments', [bin(1, 2, 3)], []],
    [
      'a text packet while attachments are still expected',
      [`452-["message",${placeholder(0)},${placeholder(1)}]`, bin(1), '42["message","x"]'],
      [],
    ],
    [
      'more binary frames than announced',
      [`451-["message",${placeholder(0)}]`, bin(1), bin(2)],
      // the complete first packet may have been handled before the extra frame arrived
      [`451-["message-back",${placeholder(0)}]`, bin(1)],
    ],
    ['an attachment count that overflows', ['4599999999999999999999-["message"]'], []],
    ['a "-" without an attachment count', ['45-["message"]'], []],
    ['a BINARY_ACK without an attachment count', ['46["x"]'], []],
  ];
  for (const [label, frames, replies] of cases) {
    it(`${label} closes that connection only`, T, async () => {
      await withBystanders(async () => {
        const { ws, engineSid } = await sioWsConnect(srv);
        for (const f of frames) ws.send(f);
        await ws.waitClosed(3_000);
        const got = ws.queue.filter((m) => m !== '2');
        // either nothing, or exactly the listed replies (for the packet that was complete)
        if (got.length) assert.deepStrictEqual(got, replies);
        assertEngineError(await rawRequest(sidUrl(SIO, engineSid)), 400, 1, 'Session ID unknown');
      });
    });
  }

  for (const [label, header] of [
    ['a placeholder numbered past the announced attachments', `451-["message",${placeholder(5)}]`],
    ['more placeholders than announced attachments', `451-["message",${placeholder(0)},${placeholder(1)}]`],
  ]) {
    it(
      `${label} closes that connection only`,
      {
        ...T,
      },
      async () => {
        await withBystanders(async () => {
          const { ws, engineSid } = await sioWsConnect(srv);
          ws.send(header);
          ws.send(bin(1));
          await ws.waitClosed(3_000);
          assert.deepStrictEqual(ws.queue.filter((m) => m !== '2'), [], 'nothing echoed');
          assertEngineError(await rawRequest(sidUrl(SIO, engineSid)), 400, 1, 'Session ID unknown');
        });
      },
    );
  }
});

describe('/socket.io/ packets out of place', () => {
  it('a CONNECT to a namespace without a leading "/" ("40custom,") closes the connection', T, async () => {
    await withBystanders(async () => {
      const { ws, sid } = await wsHandshake(srv, SIO, { autoPong: true });
      await sendAndExpectClose(ws, sid, SIO, ['40custom,']);
    });
  });

  for (const [label, frame] of [
    ['an EVENT', '42["message",1]'],
    ['an EVENT with an ack id', '421["message-with-ack",1]'],
    ['a DISCONNECT', '41'],
  ]) {
    it(
      `${label} before any CONNECT closes the connection`,
      {
        ...T,
      },
      async () => {
        await withBystanders(async () => {
          const { ws, sid } = await wsHandshake(srv, SIO, { autoPong: true });
          const t0 = Date.now();
          await sendAndExpectClose(ws, sid, SIO, [frame]);
          const elapsed = Date.now() - t0;
          assert.ok(elapsed < CONFORMANCE.connectTimeout / 2, `closed after ${elapsed} ms, i.e. by the connect timeout, not at once`);
        });
      },
    );
  }

  it(
    'an EVENT to a namespace the client has not joined closes the connection',
    {
      ...T,
    },
    async () => {
      await withBystanders(async () => {
        const { ws, engineSid } = await sioWsConnect(srv);
        await sendAndExpectClose(ws, engineSid, SIO, ['42/custom,["message",1]']);
      });
    },
  );
});

describe('/socket.io/ namespace names with odd characters', () => {
  const names = [
    '/fo o',
    '/a"b\\',
    '/ü€😀',
    '/nul\u0000x',
    '/tab\tnl\n',
    '/custom/',
    '/CUSTOM',
    '//custom',
    '/%2e%2e',
    `/${'n'.repeat(10_000)}`,
  ];
  for (const nsp of names) {
    it(`CONNECT to ${JSON.stringify(nsp.length > 40 ? `${nsp.slice(0, 12)}…(${nsp.length} chars)` : nsp)} gets "Invalid namespace" and the connection stays usable`, T, async () => {
      await withBystanders(async () => {
        const { ws } = await sioWsConnect(srv);
        ws.send(`40${nsp},`);
        assert.equal(await ws.next(), `44${nsp},{"message":"Invalid namespace"}`);
        ws.send('42["message","still here"]');
        assert.equal(await ws.next(), '42["message-back","still here"]');
        assert.equal(ws.isClosed, false);
      });
    });
  }
});

// ---------------------------------------------------------------------------
// /socket.io/ over polling
// ---------------------------------------------------------------------------

describe('/socket.io/ polling garbage after CONNECT', () => {
  const cases = [
    ['an unknown Socket.IO packet type "4abc"', '4abc'],
    ['invalid JSON "42{invalid json"', '42{invalid json'],
    ['the reserved event name 42["connect"]', '42["connect"]'],
    ['a huge ACK id', '43999999999999999999999[]'],
    ['a binary attachment nobody announced', 'bAQID'],
  ];
  for (const [label, body] of cases) {
    it(`${label} ends that session only`, T, async () => {
      await withBystanders(async () => {
        const client = await PollingClient.open(srv, SIO);
        assert.equal((await client.post('40')).status, 200);
        assert.match(await client.next(), /^40\{"sid":"[^"]+"\}$/);
        assert.equal(await client.next(), '42["auth",{}]');
        const res = await client.post(body);
        // the Engine.IO payload itself is fine: the POST may be accepted before the
        // Socket.IO layer closes the session
        if (res.status === 200) assert.equal(res.text, 'ok');
        else assertEngineError(res, 400, 3, 'Bad request');
        const info = await client.waitClosed(3_000);
        if (info.packet) assert.equal(info.packet, '1');
        else assert.deepStrictEqual(info, { status: 400, text: '{"code":1,"message":"Session ID unknown"}' });
        assert.deepStrictEqual(client.queue, [], 'no answer to the bad packet');
        assertEngineError(await rawRequest(sidUrl(SIO, client.sid)), 400, 1, 'Session ID unknown');
      });
    });
  }
});

it('the server is still alive at the end of the file', T, async () => {
  await assertServerAlive(srv);
});
