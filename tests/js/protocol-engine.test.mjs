// Wire-level tests of the conformance server (examples/conformance.rs), with raw
// HTTP requests and raw WebSockets instead of the official client:
// - /engine.io/: a bare Engine.IO v4 echo server;
// - /socket.io/: Socket.IO v5 with namespaces "/" and "/custom".
// Settings: pingInterval 300 ms, pingTimeout 200 ms, connectTimeout 1000 ms,
// maxPayload 1 000 000 bytes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONFORMANCE,
  PollingClient,
  RawWs,
  SEP,
  T,
  assertConformanceOpen,
  assertEngineError,
  decodePayload,
  encodePayload,
  eioUrl,
  eioWsUrl,
  parseOpenPacket,
  pollingHandshake,
  rawRequest,
  sioWsConnect,
  useConformanceServer,
  wsAttempt,
  wsHandshake,
} from './helpers.mjs';

const srv = useConformanceServer();

const EIO = '/engine.io/';
const SIO = '/socket.io/';
const TEXT_PLAIN = 'text/plain; charset=UTF-8';

/** Polling URL of session `sid` on `path`. */
function sidUrl(path, sid, extra = {}) {
  return eioUrl(srv, path, { transport: 'polling', sid, ...extra });
}

/**
 * GET on a polling session. A heartbeat ping that shows up first (only on a very
 * slow machine) is answered and the GET repeated, so the result is the first
 * response that is not a lone "2". Returns the response with `packets` (pings removed).
 */
async function pollGet(path, sid, opts) {
  for (;;) {
    const res = await rawRequest(sidUrl(path, sid), opts);
    if (res.status !== 200) return res;
    const packets = decodePayload(res.text);
    const rest = packets.filter((p) => p !== '2');
    if (rest.length < packets.length) {
      const pong = await rawRequest(sidUrl(path, sid), { method: 'POST', body: '3' });
      assert.equal(pong.status, 200, 'pong accepted');
    }
    if (rest.length) return { ...res, packets: rest };
  }
}

async function post(path, sid, body, opts = {}) {
  return rawRequest(sidUrl(path, sid), { method: 'POST', body, ...opts });
}

function assertOk(res) {
  assert.equal(res.status, 200, `POST status (${res.text})`);
  assert.equal(res.text, 'ok');
  assert.match(String(res.headers['content-type']), /^text\/html\b/);
}

// ---------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------

describe('handshake', () => {
  for (const path of [EIO, SIO]) {
    it(`${path} polling: 200, text/plain open packet with exactly sid, upgrades ["websocket"] and the timings`, T, async () => {
      const a = await pollingHandshake(srv, path);
      assert.equal(a.res.headers['content-type'], TEXT_PLAIN);
      assert.ok(!a.res.text.includes(SEP), 'the handshake answer holds only the open packet');
      assertConformanceOpen(a.open, ['websocket']);
      assert.equal(
        a.res.text,
        `0{"sid":"${a.sid}","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}`,
      );
      const b = await pollingHandshake(srv, path);
      assert.notEqual(a.sid, b.sid, 'every session gets its own sid');
    });

    it(`${path} websocket: the first frame is the open packet with upgrades []`, T, async () => {
      const a = await wsHandshake(srv, path);
      assertConformanceOpen(a.open, []);
      const b = await wsHandshake(srv, path);
      assert.notEqual(a.sid, b.sid, 'every session gets its own sid');
      const c = await pollingHandshake(srv, path);
      assert.ok(c.sid !== a.sid && c.sid !== b.sid, 'polling and websocket sids are distinct too');
    });
  }

  it('missing or invalid EIO: 400 {"code":5,"message":"Unsupported protocol version"}', T, async () => {
    for (const EIOv of [undefined, 'abc', '3', '5', '']) {
      for (const transport of ['polling', 'websocket']) {
        const res = await rawRequest(eioUrl(srv, EIO, { EIO: EIOv, transport }));
        assertEngineError(res, 400, 5, 'Unsupported protocol version');
      }
      // a real WebSocket upgrade request is refused the same way, before the upgrade
      const attempt = await wsAttempt(eioWsUrl(srv, EIO, { EIO: EIOv }));
      assert.ok(attempt.refused, `websocket with EIO=${EIOv} is refused`);
      assert.equal(attempt.refused.status, 400);
      assert.deepStrictEqual(JSON.parse(attempt.refused.text), { code: 5, message: 'Unsupported protocol version' });
    }
  });

  it('missing or unknown transport: 400 {"code":0,"message":"Transport unknown"}', T, async () => {
    for (const path of [EIO, SIO]) {
      for (const transport of [undefined, 'abc', 'Polling', 'flashsocket']) {
        assertEngineError(await rawRequest(eioUrl(srv, path, { transport })), 400, 0, 'Transport unknown');
      }
    }
    const attempt = await wsAttempt(eioWsUrl(srv, EIO, { transport: 'abc' }));
    assert.ok(attempt.refused, 'websocket upgrade with transport=abc is refused');
    assert.equal(attempt.refused.status, 400);
    assert.deepStrictEqual(JSON.parse(attempt.refused.text), { code: 0, message: 'Transport unknown' });
  });

  it('a handshake with another method than GET: 400 {"code":2,"message":"Bad handshake method"}', T, async () => {
    for (const path of [EIO, SIO]) {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const res = await rawRequest(eioUrl(srv, path, { transport: 'polling' }), { method, body: '4hello' });
        assertEngineError(res, 400, 2, 'Bad handshake method');
      }
    }
  });

  it('a plain GET with transport=websocket and no Upgrade header: 400 {"code":3,"message":"Bad request"}', T, async () => {
    assertEngineError(await rawRequest(eioUrl(srv, EIO, { transport: 'websocket' })), 400, 3, 'Bad request');
  });

  it('unknown sid: 400 {"code":1,"message":"Session ID unknown"} for GET, POST and websocket', T, async () => {
    for (const path of [EIO, SIO]) {
      for (const sid of ['nope', 'AAAAAAAAAAAAAAAAAAAA', '']) {
        assertEngineError(await rawRequest(sidUrl(path, sid)), 400, 1, 'Session ID unknown');
        assertEngineError(await post(path, sid, '4hello'), 400, 1, 'Session ID unknown');
      }
      const attempt = await wsAttempt(eioWsUrl(srv, path, { sid: 'nope' }));
      assert.ok(attempt.refused, 'websocket with an unknown sid is refused');
      assert.equal(attempt.refused.status, 400);
      assert.deepStrictEqual(JSON.parse(attempt.refused.text), { code: 1, message: 'Session ID unknown' });
    }
  });

  it('a CORS preflight (OPTIONS) is answered without an error and harms no session', T, async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const headers = {
      Origin: 'http://example.com',
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type',
    };
    for (const url of [eioUrl(srv, EIO, { transport: 'polling' }), sidUrl(EIO, sid), eioUrl(srv, SIO, {})]) {
      const res = await rawRequest(url, { method: 'OPTIONS', headers });
      assert.ok(res.status >= 200 && res.status < 300, `OPTIONS ${url}: status ${res.status}`);
    }
    assertOk(await post(EIO, sid, '4after-preflight'));
    assert.deepStrictEqual((await pollGet(EIO, sid)).packets, ['4after-preflight']);
  });
});

// ---------------------------------------------------------------------------
// HTTP long-polling
// ---------------------------------------------------------------------------

describe('polling', () => {
  it('POST answers 200 "ok" (text/html); GET answers text/plain with the echo', T, async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    assertOk(await post(EIO, sid, '4hello'));
    const res = await pollGet(EIO, sid);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], TEXT_PLAIN);
    assert.deepStrictEqual(res.packets, ['4hello']);
  });

  it('several packets joined by \\x1e in one POST come back joined in one GET, in order', T, async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const sent = ['4test1', '4test2', '4', '4é ü 😀', '4test3'];
    assertOk(await post(EIO, sid, sent.join(SEP)));
    const res = await pollGet(EIO, sid);
    assert.deepStrictEqual(res.packets, sent);
    if (!decodePayload(res.text).includes('2')) assert.equal(res.text, sent.join(SEP), 'exact body');
  });

  it('binary travels as b<base64> both ways, mixed with text', T, async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    assertOk(await post(EIO, sid, `4hello${SEP}bAQIDBA==`));
    const res = await pollGet(EIO, sid);
    if (!decodePayload(res.text).includes('2')) assert.equal(res.text, `4hello${SEP}bAQIDBA==`, 'exact body');
    assert.deepStrictEqual(res.packets, ['4hello', Buffer.from([1, 2, 3, 4])]);

    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    assertOk(await post(EIO, sid, encodePayload([bytes, Buffer.alloc(0), '4x'])));
    assert.deepStrictEqual((await pollGet(EIO, sid)).packets, [bytes, Buffer.alloc(0), '4x']);
  });

  it('a second concurrent GET is refused and closes the session; the pending GET gets "1"; the sid is then unknown', T, async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const first = rawRequest(sidUrl(EIO, sid));
    // give the first GET time to reach the server and be parked there
    await new Promise((r) => setTimeout(r, 50));
    const second = await rawRequest(sidUrl(EIO, sid, { t: 'burst' }));
    // (the body is not part of the contract: the reference server sends an empty one)
    assert.equal(second.status, 400, `second GET: ${second.status} ${second.text}`);
    const r1 = await first;
    assert.equal(r1.status, 200);
    assert.equal(r1.text, '1', 'the pending GET receives the close packet');
    assertEngineError(await rawRequest(sidUrl(EIO, sid)), 400, 1, 'Session ID unknown');
    assertEngineError(await post(EIO, sid, '4late'), 400, 1, 'Session ID unknown');
  });

  it('a POST of exactly maxPayload bytes is accepted', T, async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const packet = `4${'x'.repeat(CONFORMANCE.maxPayload - 1)}`;
    assertOk(await post(EIO, sid, packet));
    assert.deepStrictEqual((await pollGet(EIO, sid)).packets, [packet]);
  });

  it('a POST bigger than maxPayload is refused with 413 and closes only that session', T, async () => {
    const bystander = await PollingClient.open(srv, EIO);
    const { sid } = await pollingHandshake(srv, EIO);
    let res;
    try {
      res = await post(EIO, sid, `4${'x'.repeat(CONFORMANCE.maxPayload)}`); // 1 000 001 bytes
    } catch (err) {
      // the server may answer before reading the whole body and drop the connection
      assert.ok(['ECONNRESET', 'EPIPE', 'ECUTSHORT'].includes(err.code), `unexpected error ${err.message}`);
    }
    if (res) assert.equal(res.status, 413, `oversized POST: ${res.status} ${res.text}`);
    // the session is gone (a GET parked before the close would get "1")
    const next = await rawRequest(sidUrl(EIO, sid));
    if (next.status === 200) assert.equal(next.text, '1');
    else assertEngineError(next, 400, 1, 'Session ID unknown');
    // the other session keeps echoing
    const r = await bystander.post('4still-here');
    assertOk(r);
    assert.equal(await bystander.next(), '4still-here');
    assert.equal(bystander.closeInfo, null);
  });

  it(
    'a client "1" (close) by POST releases the pending GET with a noop "6" and ends the session',
    {
      ...T,
    },
    async () => {
      const { sid } = await pollingHandshake(srv, EIO);
      const pending = rawRequest(sidUrl(EIO, sid));
      await new Promise((r) => setTimeout(r, 50));
      assertOk(await post(EIO, sid, '1'));
      const res = await pending;
      assert.equal(res.status, 200);
      assertEngineError(await rawRequest(sidUrl(EIO, sid)), 400, 1, 'Session ID unknown');
      assert.equal(res.text, '6', 'the pending GET is released with a noop');
    },
  );
});

// ---------------------------------------------------------------------------
// WebSocket
// ---------------------------------------------------------------------------

describe('websocket', () => {
  it('text echo: "4hello" comes back as the same text frame', T, async () => {
    const { ws } = await wsHandshake(srv, EIO, { autoPong: true });
    for (const m of ['4hello', '4', '4é ü 😀', `4${'z'.repeat(100_000)}`]) {
      ws.send(m);
      assert.equal(await ws.nextText(), m);
    }
  });

  it('binary echo: a binary frame comes back as a binary frame with the same bytes', T, async () => {
    const { ws } = await wsHandshake(srv, EIO, { autoPong: true });
    for (const bytes of [Buffer.from([1, 2, 3, 4]), Buffer.alloc(0), Buffer.alloc(200_000, 0xa5)]) {
      ws.send(bytes);
      const m = await ws.next();
      assert.ok(Buffer.isBuffer(m), 'binary frame');
      assert.ok(m.equals(bytes), 'same bytes');
    }
  });

  it('upgrade from polling: 2probe/3probe, the pending GET is released with "6", then "5"; echoes go over the websocket', T, async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const pending = rawRequest(sidUrl(EIO, sid));
    await new Promise((r) => setTimeout(r, 50));
    const ws = await RawWs.open(eioWsUrl(srv, EIO, { sid }), { autoPong: true });
    ws.send('2probe');
    assert.equal(await ws.nextText(), '3probe');
    let released = await pending;
    while (released.status === 200 && released.text === '2') {
      // only on a very slow machine: the first ping won the race against the probe
      assertOk(await post(EIO, sid, '3'));
      released = await rawRequest(sidUrl(EIO, sid));
    }
    assert.equal(released.status, 200);
    assert.equal(released.text, '6', 'the pending GET is released with a noop');
    ws.send('5');
    ws.send('4hello');
    assert.equal(await ws.nextText(), '4hello');
    ws.send(Buffer.from([9, 8, 7]));
    assert.ok((await ws.next()).equals(Buffer.from([9, 8, 7])));

    // the polling transport is gone: the old sid is refused over HTTP ...
    assertEngineError(await rawRequest(sidUrl(EIO, sid)), 400, 3, 'Bad request');
    assertEngineError(await post(EIO, sid, '4via-polling'), 400, 3, 'Bad request');
    // ... without harming the upgraded session
    ws.send('4still-up');
    assert.equal(await ws.nextText(), '4still-up');
    assert.equal(ws.isClosed, false);
  });

  it('a GET arriving during the upgrade is answered "6" and echoes queued before "5" arrive over the websocket', T, async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const ws = await RawWs.open(eioWsUrl(srv, EIO, { sid }), { autoPong: true });
    ws.send('2probe');
    assert.equal(await ws.nextText(), '3probe');
    const during = await rawRequest(sidUrl(EIO, sid));
    assert.equal(during.status, 200);
    assert.ok(['6', '2'].includes(during.text), `GET during the upgrade: ${JSON.stringify(during.text)}`);
    if (during.text === '2') assertOk(await post(EIO, sid, '3'));
    assertOk(await post(EIO, sid, '4queued'));
    ws.send('5');
    assert.equal(await ws.nextText(), '4queued');
    ws.send('4after');
    assert.equal(await ws.nextText(), '4after');
  });

  it('a second websocket upgrade for an upgraded sid is refused; the first websocket keeps working', T, async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const ws = await RawWs.open(eioWsUrl(srv, EIO, { sid }), { autoPong: true });
    ws.send('2probe');
    assert.equal(await ws.nextText(), '3probe');
    ws.send('5');
    ws.send('4one');
    assert.equal(await ws.nextText(), '4one');

    const attempt = await wsAttempt(eioWsUrl(srv, EIO, { sid }));
    if (attempt.refused) {
      assert.equal(attempt.refused.status, 400);
      assert.deepStrictEqual(JSON.parse(attempt.refused.text), { code: 3, message: 'Bad request' });
    } else {
      // accepted then closed at once, without an open packet or a probe answer
      attempt.ws.send('2probe');
      await attempt.ws.waitClosed();
      assert.deepStrictEqual(attempt.ws.queue, []);
    }
    ws.send('4two');
    assert.equal(await ws.nextText(), '4two');
    assert.equal(ws.isClosed, false);
  });

  it('a websocket upgrade of a websocket-only session is refused', T, async () => {
    const { ws, sid } = await wsHandshake(srv, EIO, { autoPong: true });
    const attempt = await wsAttempt(eioWsUrl(srv, EIO, { sid }));
    if (attempt.refused) {
      assert.equal(attempt.refused.status, 400);
      assert.deepStrictEqual(JSON.parse(attempt.refused.text), { code: 3, message: 'Bad request' });
    } else {
      attempt.ws.send('2probe');
      await attempt.ws.waitClosed();
    }
    assertEngineError(await rawRequest(sidUrl(EIO, sid)), 400, 3, 'Bad request');
    ws.send('4alive');
    assert.equal(await ws.nextText(), '4alive');
  });

  it('a client "1" (close) on the websocket closes it', T, async () => {
    const { ws, sid } = await wsHandshake(srv, EIO, { autoPong: true });
    ws.send('1');
    await ws.waitClosed(2_000);
    assertEngineError(await rawRequest(sidUrl(EIO, sid)), 400, 1, 'Session ID unknown');
  });
});

// ---------------------------------------------------------------------------
// Heartbeat
// ---------------------------------------------------------------------------

describe('heartbeat', () => {
  it('polling: the first "2" comes about one pingInterval after the handshake, and again after each pong', T, async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const t0 = Date.now();
    const first = await rawRequest(sidUrl(EIO, sid));
    const elapsed = Date.now() - t0;
    assert.equal(first.status, 200);
    assert.equal(first.text, '2');
    assert.ok(elapsed >= 200 && elapsed <= 1_000, `first ping after ${elapsed} ms`);
    for (let i = 0; i < 2; i++) {
      assertOk(await post(EIO, sid, '3'));
      const ping = await rawRequest(sidUrl(EIO, sid));
      assert.equal(ping.status, 200);
      assert.equal(ping.text, '2', `ping #${i + 2}`);
    }
    assertOk(await post(EIO, sid, '3'));
  });

  it('websocket: the first "2" comes about one pingInterval after the open packet, and again after each pong', T, async () => {
    const ws = await RawWs.open(eioWsUrl(srv, EIO));
    parseOpenPacket(await ws.nextText());
    const t0 = Date.now();
    assert.equal(await ws.nextText(), '2');
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 200 && elapsed <= 1_000, `first ping after ${elapsed} ms`);
    for (let i = 0; i < 2; i++) {
      ws.send('3');
      assert.equal(await ws.nextText(), '2', `ping #${i + 2}`);
    }
    ws.send('3');
    ws.send('4still-here');
    assert.equal(await ws.nextText(), '4still-here');
  });

  it('a websocket that answers every ping stays open over several intervals', T, async () => {
    const { ws } = await wsHandshake(srv, EIO, { autoPong: true });
    await new Promise((r) => setTimeout(r, 5 * CONFORMANCE.pingInterval));
    assert.equal(ws.isClosed, false);
    assert.ok(ws.pings >= 2, `${ws.pings} pings answered`);
    ws.send('4alive');
    assert.equal(await ws.nextText(), '4alive');
  });

  it('polling: a session that does not answer the ping is closed after pingInterval + pingTimeout', T, async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const ping = await rawRequest(sidUrl(EIO, sid));
    assert.equal(ping.text, '2');
    // no pong: the next GET is parked until the session dies (then gets "1"), or
    // arrives after that (then the sid is unknown), or is cut.
    let next;
    try {
      next = await rawRequest(sidUrl(EIO, sid), { timeout: 3_000 });
    } catch (err) {
      assert.ok(['ECONNRESET', 'ECUTSHORT'].includes(err.code), `unexpected error ${err.message}`);
    }
    if (next && next.status === 200) assert.equal(next.text, '1');
    else if (next) assertEngineError(next, 400, 1, 'Session ID unknown');
    assertEngineError(await rawRequest(sidUrl(EIO, sid)), 400, 1, 'Session ID unknown');
  });

  it('websocket: a session that does not answer the ping is closed after pingInterval + pingTimeout', T, async () => {
    const ws = await RawWs.open(eioWsUrl(srv, EIO));
    const { sid } = parseOpenPacket(await ws.nextText());
    const t0 = Date.now();
    assert.equal(await ws.nextText(), '2');
    await ws.waitClosed(3_000);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 100, `closed ${elapsed} ms after the ping, not before its timeout`);
    assert.deepStrictEqual(ws.queue, [], 'nothing after the ping');
    assertEngineError(await rawRequest(sidUrl(EIO, sid)), 400, 1, 'Session ID unknown');
  });
});

// ---------------------------------------------------------------------------
// Socket.IO
// ---------------------------------------------------------------------------

describe('socket.io', () => {
  it('a websocket client that never sends CONNECT is closed after connectTimeout (even while answering pings)', T, async () => {
    const { ws } = await wsHandshake(srv, SIO, { autoPong: true });
    const t0 = Date.now();
    await ws.waitClosed(5_000);
    const elapsed = Date.now() - t0;
    assert.ok(ws.pings >= 1, 'pings were answered, so this is not a ping timeout');
    assert.ok(elapsed >= 500 && elapsed <= 4_000, `closed after ${elapsed} ms`);
    assert.deepStrictEqual(ws.queue, [], 'no packet before the close');
  });

  it('a polling client that never sends CONNECT is closed after connectTimeout (even while answering pings)', T, async () => {
    const client = await PollingClient.open(srv, SIO);
    const t0 = Date.now();
    const info = await client.waitClosed(5_000);
    const elapsed = Date.now() - t0;
    assert.ok(client.pings >= 1, 'pings were answered, so this is not a ping timeout');
    assert.ok(elapsed >= 500 && elapsed <= 4_000, `closed after ${elapsed} ms (${JSON.stringify(info)})`);
    if (info.status) assertEngineError({ status: info.status, text: info.text, headers: { 'content-type': 'application/json' } }, 400, 1, 'Session ID unknown');
    else assert.deepStrictEqual(info, { packet: '1' });
  });

  it('"40" gets 40{"sid":...} (not the engine sid), then 42["auth",{}]', T, async () => {
    const { ws, sid: engineSid } = await wsHandshake(srv, SIO, { autoPong: true });
    ws.send('40');
    const answer = await ws.nextText();
    const m = /^40(\{.*\})$/.exec(answer);
    assert.ok(m, `CONNECT answer ${answer}`);
    const data = JSON.parse(m[1]);
    assert.deepStrictEqual(Object.keys(data), ['sid']);
    assert.equal(typeof data.sid, 'string');
    assert.ok(data.sid.length > 0);
    assert.notEqual(data.sid, engineSid, 'the socket id is not the engine sid');
    assert.equal(await ws.nextText(), '42["auth",{}]');

    const other = await sioWsConnect(srv);
    assert.notEqual(other.sid, data.sid, 'socket ids differ between connections');
  });

  it('CONNECT with a payload: the auth event carries it', T, async () => {
    const c = await sioWsConnect(srv, { auth: { token: '123', n: [1, { deep: true }] } });
    assert.deepStrictEqual(c.auth, { token: '123', n: [1, { deep: true }] });
  });

  it('CONNECT to /custom: 40/custom,{"sid":...} then 42/custom,["auth",...]; both namespaces on one connection', T, async () => {
    const { ws, sid: engineSid } = await wsHandshake(srv, SIO, { autoPong: true });
    ws.send('40/custom,{"token":"abc"}');
    const answer = await ws.nextText();
    assert.ok(answer.startsWith('40/custom,{'), answer);
    const data = JSON.parse(answer.slice('40/custom,'.length));
    assert.deepStrictEqual(Object.keys(data), ['sid']);
    assert.notEqual(data.sid, engineSid);
    assert.equal(await ws.nextText(), '42/custom,["auth",{"token":"abc"}]');
    ws.send('40');
    const root = await ws.nextText();
    assert.match(root, /^40\{"sid":"[^"]+"\}$/);
    assert.notEqual(JSON.parse(root.slice(2)).sid, data.sid, 'one socket id per namespace');
    assert.equal(await ws.nextText(), '42["auth",{}]');
    ws.send('42["message","on root"]');
    assert.equal(await ws.nextText(), '42["message-back","on root"]');
  });

  it('CONNECT to an unknown namespace gets 44/nope,{"message":"Invalid namespace"} and the connection stays usable', T, async () => {
    const { ws } = await wsHandshake(srv, SIO, { autoPong: true });
    ws.send('40/nope');
    assert.equal(await ws.nextText(), '44/nope,{"message":"Invalid namespace"}');
    ws.send('40/nope,{"token":"x"}');
    assert.equal(await ws.nextText(), '44/nope,{"message":"Invalid namespace"}');
    ws.send('40');
    assert.match(await ws.nextText(), /^40\{"sid":"[^"]+"\}$/);
    assert.equal(await ws.nextText(), '42["auth",{}]');
  });

  it('events: 42["message",...] gets 42["message-back",...] with the same arguments', T, async () => {
    const { ws } = await sioWsConnect(srv);
    ws.send('42["message",1,"2",{"3":[true]}]');
    assert.equal(await ws.nextText(), '42["message-back",1,"2",{"3":[true]}]');
    ws.send('42["message"]');
    assert.equal(await ws.nextText(), '42["message-back"]');
  });

  it('acks: 42<id>["message-with-ack",...] gets 43<id>[...] with the same arguments', T, async () => {
    const { ws } = await sioWsConnect(srv);
    ws.send('42456["message-with-ack",1,"2",{"3":[false]}]');
    assert.equal(await ws.nextText(), '43456[1,"2",{"3":[false]}]');
    ws.send('420["message-with-ack"]');
    assert.equal(await ws.nextText(), '430[]');
    const c = await sioWsConnect(srv, { nsp: '/custom' });
    c.ws.send('42/custom,7["message-with-ack","x"]');
    assert.equal(await c.ws.nextText(), '43/custom,7["x"]');
  });

  it('binary events: 452-[...] with two attachments comes back as 452-["message-back",...] and the same two frames', T, async () => {
    const { ws } = await sioWsConnect(srv);
    ws.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    ws.send(Buffer.from([1, 2, 3]));
    ws.send(Buffer.from([4, 5, 6]));
    assert.equal(await ws.nextText(), '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    assert.ok((await ws.next()).equals(Buffer.from([1, 2, 3])));
    assert.ok((await ws.next()).equals(Buffer.from([4, 5, 6])));
    // text and binary nested in objects
    ws.send('451-["message",{"a":{"_placeholder":true,"num":0},"b":"text"}]');
    ws.send(Buffer.alloc(0));
    assert.equal(await ws.nextText(), '451-["message-back",{"a":{"_placeholder":true,"num":0},"b":"text"}]');
    assert.equal((await ws.next()).length, 0);
  });

  it('acks with binary: 452-789["message-with-ack",...] gets 462-789[...] and the two frames', T, async () => {
    const { ws } = await sioWsConnect(srv);
    ws.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    ws.send(Buffer.from([1, 2, 3]));
    ws.send(Buffer.from([4, 5, 6]));
    assert.equal(await ws.nextText(), '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    assert.ok((await ws.next()).equals(Buffer.from([1, 2, 3])));
    assert.ok((await ws.next()).equals(Buffer.from([4, 5, 6])));
  });

  it('over polling: CONNECT, an event, and a binary event whose attachments travel as b<base64>', T, async () => {
    const client = await PollingClient.open(srv, SIO);
    assertOk(await client.post('40'));
    const answer = await client.next();
    assert.match(answer, /^40\{"sid":"[^"]+"\}$/);
    assert.notEqual(JSON.parse(answer.slice(2)).sid, client.sid);
    assert.equal(await client.next(), '42["auth",{}]');
    assertOk(await client.post('42["message","hi"]'));
    assert.equal(await client.next(), '42["message-back","hi"]');
    assertOk(await client.post(['451-12["message-with-ack",{"_placeholder":true,"num":0}]', Buffer.from([0xde, 0xad])]));
    assert.equal(await client.next(), '461-12[{"_placeholder":true,"num":0}]');
    assert.deepStrictEqual(await client.next(), Buffer.from([0xde, 0xad]));
  });

  it('41 leaves the namespace silently and the engine connection stays open', T, async () => {
    const { ws } = await sioWsConnect(srv);
    ws.send('41');
    ws.send('40/custom,');
    assert.match(await ws.nextText(), /^40\/custom,\{"sid":"[^"]+"\}$/);
    assert.equal(await ws.nextText(), '42/custom,["auth",{}]');
    assert.equal(ws.isClosed, false);
  });
});

// the engine is still sane after everything above
it('the server is still alive at the end of the file', T, async () => {
  srv.server.health();
  await pollingHandshake(srv, EIO);
  const { ws } = await wsHandshake(srv, EIO, { autoPong: true });
  ws.send('4bye');
  assert.equal(await ws.nextText(), '4bye');
});
