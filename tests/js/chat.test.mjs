// The chat example (examples/chat, CHAT_BIN) with the official client: HTTP login on the
// same port (POST /login → JWT), the "/chat" gateway behind JwtGuard, rooms with
// history, validated messages acknowledged with their id, typing indicators, leaving,
// and errors sent through the ack (ack_errors + the ChatErrors filter). The example has
// connection state recovery on, so each recorded event ends with its offset (a string).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  CHAT_BIN,
  T,
  connect,
  createSocket,
  emitAck,
  MODES,
  forEachMode,
  nowSeconds,
  rawRequest,
  signJwt,
  uid,
  useBinServer,
  waitConnectError,
} from './helpers.mjs';

/** An event's arguments without the recovery offset that ends them. */
function withoutOffset(args) {
  assert.equal(typeof args.at(-1), 'string', 'a recorded event ends with its offset');
  return args.slice(0, -1);
}

const SECRET = 'chat-test-secret';
const srv = useBinServer({ bin: CHAT_BIN, env: { JWT_SECRET: SECRET, RUST_LOG: 'warn', RUST_BACKTRACE: '0' } });

/** POST /login {"username"} → the HTTP answer ({ status, json }). */
async function postLogin(body) {
  const res = await rawRequest(`${srv.url}/login`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' },
  });
  return { ...res, json: res.text ? JSON.parse(res.text) : undefined };
}

/** A token for `username` from POST /login. */
async function login(username) {
  const res = await postLogin({ username });
  assert.equal(res.status, 200, `login status (${res.text})`);
  assert.deepStrictEqual(Object.keys(res.json), ['token']);
  return res.json.token;
}

/** A logged-in, connected "/chat" client: { socket, rec, id, user }. */
async function chatUser(mode, username) {
  const token = await login(username);
  const c = await connect(srv, mode, { nsp: '/chat', auth: { token }, welcome: false });
  return { ...c, user: username };
}

/** Joins `room`; returns the history the ack carries. */
async function join(c, room) {
  const [history] = await emitAck(c.socket, 'join', { room });
  assert.ok(Array.isArray(history), `join ack is the history array: ${JSON.stringify(history)}`);
  return history;
}

/**
 * A round trip on `c`: leaving a room nobody is in (acknowledged with true). Anything
 * the server queued for `c` before has arrived once it resolves.
 */
async function roundTrip(c) {
  assert.deepStrictEqual(await emitAck(c.socket, 'leave', { room: uid('nobody') }), [true]);
}

// ----- HTTP ------------------------------------------------------------------------

describe('HTTP', () => {
  it('GET / returns the built front end; its script comes from this server', T, async () => {
    const res = await rawRequest(`${srv.url}/`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html\b/);
    assert.ok(res.text.toLowerCase().startsWith('<!doctype html>'), 'an HTML document');
    assert.ok(res.text.includes('<title>Chat</title>'));
    const script = res.text.match(/<script type="module" crossorigin src="(\/assets\/[^"]+\.js)"/);
    assert.ok(script, `a bundled module script in ${res.text}`);
    const js = await rawRequest(`${srv.url}${script[1]}`);
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript\b/);
    assert.match(String(js.headers['cache-control']), /immutable/);
    assert.ok(js.text.includes('/chat'), 'the bundle connects to /chat');
    assert.equal((await rawRequest(`${srv.url}/assets/missing.js`)).status, 404);
    for (const escape of ['/../Cargo.toml', '/%2e%2e/Cargo.toml', '/assets/../../Cargo.toml']) {
      const res = await rawRequest(`${srv.url}${escape}`);
      assert.ok(!res.text.includes('[package]'), `${escape} stays inside the build`);
    }
  });

  it('POST /login {"username":"ada"} → an HS256 token for sub "ada", valid for an hour', T, async () => {
    const token = await login('ada');
    const [h, p, s] = token.split('.');
    assert.deepStrictEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { typ: 'JWT', alg: 'HS256' });
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    assert.deepStrictEqual(Object.keys(claims).sort(), ['exp', 'sub']);
    assert.equal(claims.sub, 'ada');
    const lifetime = claims.exp - nowSeconds();
    assert.ok(lifetime > 3590 && lifetime <= 3600, `exp is now + 3600 s (got now + ${lifetime})`);
    const expected = crypto.createHmac('sha256', SECRET).update(`${h}.${p}`).digest('base64url');
    assert.equal(s, expected, 'signed with JWT_SECRET');
  });

  for (const [label, username] of [
    ['an empty username', ''],
    ['a blank username', '   '],
    ['a 33-character username', 'x'.repeat(33)],
  ]) {
    it(`POST /login with ${label} → 400 {"error": ...}`, T, async () => {
      const res = await postLogin({ username });
      assert.equal(res.status, 400);
      assert.deepStrictEqual(res.json, { error: 'username must be 1 to 32 characters' });
    });
  }
});

// ----- /chat -----------------------------------------------------------------------

forEachMode((mode) => {
  it('/chat without a token → connect_error "Unauthorized" (reason "no token")', T, async () => {
    const socket = createSocket(srv, mode, { nsp: '/chat' });
    const err = await waitConnectError(socket);
    assert.equal(err.message, 'Unauthorized');
    assert.deepStrictEqual(err.data, { status: 'error', message: 'Unauthorized', reason: 'no token' });
    assert.equal(socket.connected, false);
  });

  it('/chat with a token signed with another secret → connect_error "Unauthorized"', T, async () => {
    const token = signJwt({ sub: 'mallory', exp: nowSeconds() + 60 }, 'not-the-chat-secret');
    const socket = createSocket(srv, mode, { nsp: '/chat', auth: { token } });
    const err = await waitConnectError(socket);
    assert.equal(err.message, 'Unauthorized');
    assert.equal(err.data.reason, 'invalid token signature');
  });

  it('/chat with the login token → connects; joining a new room → empty history', T, async () => {
    const ada = await chatUser(mode, 'ada');
    assert.deepStrictEqual(await join(ada, uid('room')), []);
  });

  it('GET /metrics counts the /chat sockets; /health/ready is 200', T, async () => {
    await chatUser(mode, 'ada');
    const metrics = (await rawRequest(`${srv.url}/metrics`)).text;
    const connected = metrics
      .split('\n')
      .filter((l) => l.startsWith('socketio_sockets_connected{namespace="/chat"'))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    assert.ok(connected >= 1, metrics);
    assert.match(metrics, /^# HELP socketio_sockets_connected /m);
    assert.equal((await rawRequest(`${srv.url}/health/ready`)).status, 200);
  });

  it('two users join a room; a message reaches the other one as new-message', T, async () => {
    const room = uid('lobby');
    const ada = await chatUser(mode, 'ada');
    const bob = await chatUser(mode, 'bob');
    assert.deepStrictEqual(await join(ada, room), []);
    assert.deepStrictEqual(await join(bob, room), []);
    assert.deepStrictEqual(withoutOffset(await ada.rec.take('user-joined')), [{ room, user: 'bob' }], 'ada sees bob join');

    const before = Date.now();
    const [sent] = await emitAck(ada.socket, 'send-message', { room, text: 'hi' });
    assert.deepStrictEqual(Object.keys(sent), ['id']);
    assert.ok(Number.isInteger(sent.id) && sent.id > 0, `id ${sent.id}`);

    const [message] = await bob.rec.take('new-message');
    assert.equal(typeof message.at, 'number');
    assert.ok(message.at >= before - 5_000 && message.at <= Date.now() + 5_000, `at ${message.at} is now (ms)`);
    assert.deepStrictEqual(message, { id: sent.id, room, user: 'ada', text: 'hi', at: message.at });
    assert.equal(
      JSON.stringify(message),
      `{"id":${sent.id},"room":${JSON.stringify(room)},"user":"ada","text":"hi","at":${message.at}}`,
      'exact bytes (field order of ChatMessage)',
    );

    await roundTrip(ada);
    assert.equal(ada.rec.count('new-message'), 0, 'the sender does not get its own message');
  });

  it('message ids increase; messages arrive in order', T, async () => {
    const room = uid('order');
    const ada = await chatUser(mode, 'ada');
    const bob = await chatUser(mode, 'bob');
    await join(ada, room);
    await join(bob, room);
    const ids = [];
    for (const text of ['one', 'two', 'three']) ids.push((await emitAck(ada.socket, 'send-message', { room, text }))[0].id);
    assert.ok(ids[0] < ids[1] && ids[1] < ids[2], `ids ${ids}`);
    const got = [];
    for (let i = 0; i < 3; i += 1) got.push((await bob.rec.take('new-message'))[0]);
    assert.deepStrictEqual(
      got.map((m) => [m.id, m.text]),
      [
        [ids[0], 'one'],
        [ids[1], 'two'],
        [ids[2], 'three'],
      ],
    );
  });

  it('send-message to a room not joined → the ack is an error payload', T, async () => {
    const room = uid('elsewhere');
    const ada = await chatUser(mode, 'ada');
    const bob = await chatUser(mode, 'bob');
    await join(bob, room);
    const [res] = await emitAck(ada.socket, 'send-message', { room, text: 'hi' });
    assert.deepStrictEqual(res, {
      status: 'error',
      message: `join \`${room}\` before writing to it`,
      cause: { pattern: 'send-message', data: { room, text: 'hi' } },
    });
    await roundTrip(bob);
    assert.equal(bob.rec.count('new-message'), 0, 'nothing was delivered');
    assert.equal(ada.rec.count('exception'), 0, 'the error went to the ack only');
  });

  it('send-message with text "" → ack error "Validation failed: text (length)"', T, async () => {
    const room = uid('valid');
    const ada = await chatUser(mode, 'ada');
    await join(ada, room);
    const [res] = await emitAck(ada.socket, 'send-message', { room, text: '' });
    assert.equal(res.status, 'error');
    assert.ok(res.message.startsWith('Validation failed'), `message ${JSON.stringify(res.message)}`);
    assert.equal(res.message, 'Validation failed: text (length)');
    assert.deepStrictEqual(
      res.errors.map((e) => [e.field, e.constraints]),
      [['text', ['length']]],
    );
  });

  it('send-message with a wrong body → ack error "Invalid message: ..."', T, async () => {
    const ada = await chatUser(mode, 'ada');
    const [res] = await emitAck(ada.socket, 'send-message', { room: 1 });
    assert.equal(res.status, 'error');
    assert.ok(res.message.startsWith('Invalid message:'), `message ${JSON.stringify(res.message)}`);
    assert.deepStrictEqual(res.cause, { pattern: 'send-message', data: { room: 1 } });
  });

  it('send-message without an ack → the error comes as the exception event', T, async () => {
    const room = uid('noack');
    const ada = await chatUser(mode, 'ada');
    ada.socket.emit('send-message', { room, text: 'hi' });
    assert.deepStrictEqual(withoutOffset(await ada.rec.take('exception')), [
      {
        status: 'error',
        message: `join \`${room}\` before writing to it`,
        cause: { pattern: 'send-message', data: { room, text: 'hi' } },
      },
    ]);
  });

  it('join with an invalid room ("") → ack error "Validation failed: room (length)"', T, async () => {
    const ada = await chatUser(mode, 'ada');
    const [res] = await emitAck(ada.socket, 'join', { room: '' });
    assert.equal(res.status, 'error');
    assert.equal(res.message, 'Validation failed: room (length)');
  });

  it('typing reaches the other user as {room, user}, not the typist', T, async () => {
    const room = uid('typing');
    const ada = await chatUser(mode, 'ada');
    const bob = await chatUser(mode, 'bob');
    await join(ada, room);
    await join(bob, room);
    ada.socket.emit('typing', { room });
    assert.deepStrictEqual(await bob.rec.take('typing'), [{ room, user: 'ada' }]);
    await roundTrip(ada);
    assert.equal(ada.rec.count('typing'), 0);
  });

  it('leave → the other user gets user-left; the leaver can no longer write', T, async () => {
    const room = uid('leave');
    const ada = await chatUser(mode, 'ada');
    const bob = await chatUser(mode, 'bob');
    await join(ada, room);
    await join(bob, room);
    assert.deepStrictEqual(await emitAck(ada.socket, 'leave', { room }), [true]);
    assert.deepStrictEqual(withoutOffset(await bob.rec.take('user-left')), [{ room, user: 'ada' }]);
    const [res] = await emitAck(ada.socket, 'send-message', { room, text: 'still here?' });
    assert.equal(res.status, 'error');
    assert.equal(res.message, `join \`${room}\` before writing to it`);
    // bob's messages no longer reach ada
    await emitAck(bob.socket, 'send-message', { room, text: 'bye' });
    await roundTrip(ada);
    assert.equal(ada.rec.count('new-message'), 0);
    assert.equal(ada.rec.count('user-left'), 0, 'the leaver does not get its own user-left');
  });

  it('a later join gets the history, which contains the message as broadcast', T, async () => {
    const room = uid('history');
    const ada = await chatUser(mode, 'ada');
    const bob = await chatUser(mode, 'bob');
    await join(ada, room);
    await join(bob, room);
    const [{ id: first }] = await emitAck(ada.socket, 'send-message', { room, text: 'hi' });
    const [{ id: second }] = await emitAck(bob.socket, 'send-message', { room, text: 'hello ada' });
    const [broadcast] = await bob.rec.take('new-message');
    const [reply] = await ada.rec.take('new-message');
    const carol = await chatUser(mode, 'carol');
    const history = await join(carol, room);
    assert.deepStrictEqual(history, [broadcast, reply]);
    assert.deepStrictEqual(
      history.map((m) => [m.id, m.user, m.text]),
      [
        [first, 'ada', 'hi'],
        [second, 'bob', 'hello ada'],
      ],
    );
    // and carol now receives the room's messages
    await emitAck(ada.socket, 'send-message', { room, text: 'welcome carol' });
    const [m] = await carol.rec.take('new-message');
    assert.deepStrictEqual([m.room, m.user, m.text], [room, 'ada', 'welcome carol']);
  });
});

// ----- limits a production chat needs --------------------------------------------------

forEachMode((mode) => {
  it('a user may be in 20 rooms at once: the 21st join is refused, leaving one makes room', T, async () => {
    const ada = await chatUser(mode, 'ada');
    const rooms = Array.from({ length: 20 }, () => uid('many'));
    for (const room of rooms) await join(ada, room);
    const [refused] = await emitAck(ada.socket, 'join', { room: uid('one-too-many') });
    assert.equal(refused.message, 'at most 20 rooms at once: leave one first');
    assert.deepStrictEqual(await emitAck(ada.socket, 'leave', { room: rooms[0] }), [true]);
    await join(ada, uid('now-fits'));
  });

  it('send-message: 5 per second per socket; the 6th is refused to that socket only', T, async () => {
    const room = uid('flood');
    const ada = await chatUser(mode, 'ada');
    const bob = await chatUser(mode, 'bob');
    await join(ada, room);
    await join(bob, room);
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => emitAck(ada.socket, 'send-message', { room, text: `m${i}` })),
    );
    const refused = answers.filter(([a]) => a.status === 'error');
    assert.equal(refused.length, 1, JSON.stringify(answers));
    assert.equal(refused[0][0].message, 'ThrottlerException: Too Many Requests');
    assert.equal(refused[0][0].retryAfter, 1);
    const [sent] = await emitAck(bob.socket, 'send-message', { room, text: 'bob is fine' });
    assert.equal(typeof sent.id, 'number');
  });
}, MODES.filter((m) => m.name !== 'upgrade'));

describe('no JWT_SECRET', () => {
  it('the chat signs with a random secret: a token made with any fixed secret is refused', T, async () => {
    const server = await srv.fresh({ JWT_SECRET: null });
    const forged = signJwt({ sub: 'mallory', exp: nowSeconds() + 600 }, 'development-secret-change-me');
    const socket = createSocket(server, MODES[0], { nsp: '/chat', auth: { token: forged } });
    const err = await waitConnectError(socket);
    assert.equal(err.message, 'Unauthorized');
    // Tokens from its own /login still work.
    const res = await rawRequest(`${server.url}/login`, {
      method: 'POST',
      body: JSON.stringify({ username: 'ada' }),
      headers: { 'Content-Type': 'application/json' },
    });
    const { token } = JSON.parse(res.text);
    const ok = createSocket(server, MODES[0], { nsp: '/chat', auth: { token } });
    await new Promise((resolve, reject) => {
      ok.once('connect', resolve);
      ok.once('connect_error', reject);
    });
  });
});
