// Gateway fixture (tests/src/bin/gateway_server.rs), namespace "/secure": JwtGuard as
// connection guard and message guard (HS256, secret JWT_SECRET=GATEWAY_JWT_SECRET).
// Tokens are signed here by hand with node:crypto (HMAC-SHA256 / SHA-512).
//
// The guard reads the token from auth.token, an "Authorization: Bearer" header, or the
// `token` query parameter, and refuses with connect_error
// {message: "Unauthorized", data: {status: "error", message: "Unauthorized", reason}}.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  GATEWAY_JWT_SECRET,
  MODES,
  T,
  connect,
  createSocket,
  delay,
  emitAck,
  forEachMode,
  nowSeconds,
  signJwt,
  useGatewayServer,
  waitConnectError,
  waitEvent,
} from './helpers.mjs';

const srv = useGatewayServer();
const NSP = '/secure';

function gconnect(mode, options = {}) {
  return connect(srv, mode, { welcome: false, nsp: NSP, ...options });
}

/** A valid token for `sub` (HS256, the fixture's secret, expiring in 60 s). */
function validToken(sub = 'ada', extra = {}) {
  return signJwt({ sub, exp: nowSeconds() + 60, ...extra }, GATEWAY_JWT_SECRET);
}

/** Connects to /secure with `options`, expects connect_error "Unauthorized" and returns err.data. */
async function expectUnauthorized(mode, options) {
  const socket = createSocket(srv, mode, { nsp: NSP, ...options });
  const err = await waitConnectError(socket);
  assert.equal(err.message, 'Unauthorized');
  assert.equal(socket.connected, false);
  assert.equal(socket.active, false, 'the refusal is final');
  assert.equal(err.data.status, 'error');
  assert.equal(err.data.message, 'Unauthorized');
  return err.data;
}

forEachMode((mode) => {
  // ----- accepted ---------------------------------------------------------------------

  it('a valid HS256 token in auth.token → connects; whoami → its sub', T, async () => {
    const c = await gconnect(mode, { auth: { token: validToken('ada') } });
    assert.deepStrictEqual(await emitAck(c.socket, 'whoami'), ['ada']);
    // the claims stay on the socket: later messages pass the message guard too
    assert.deepStrictEqual(await emitAck(c.socket, 'whoami'), ['ada']);
  });

  it('two sockets with different tokens each see their own claims', T, async () => {
    const [a, b] = await Promise.all([
      gconnect(mode, { auth: { token: validToken('ada') } }),
      gconnect(mode, { auth: { token: validToken('grace') } }),
    ]);
    const [ra, rb] = await Promise.all([emitAck(a.socket, 'whoami'), emitAck(b.socket, 'whoami')]);
    assert.deepStrictEqual([ra, rb], [['ada'], ['grace']]);
  });

  it('a valid token in the query (?token=) → connects', T, async () => {
    const c = await gconnect(mode, { query: { token: validToken('query-user') } });
    assert.deepStrictEqual(await emitAck(c.socket, 'whoami'), ['query-user']);
  });

  it('extra claims are accepted (whoami still reads sub)', T, async () => {
    const c = await gconnect(mode, { auth: { token: validToken('ada', { role: 'x', iat: nowSeconds() }) } });
    assert.deepStrictEqual(await emitAck(c.socket, 'whoami'), ['ada']);
  });

  // ----- refused ----------------------------------------------------------------------

  it('no token → connect_error "Unauthorized", reason "no token"', T, async () => {
    const data = await expectUnauthorized(mode, {});
    assert.deepStrictEqual(data, { status: 'error', message: 'Unauthorized', reason: 'no token' });
  });

  it('an expired token → reason "token expired"', T, async () => {
    const token = signJwt({ sub: 'ada', exp: nowSeconds() - 30 }, GATEWAY_JWT_SECRET);
    const data = await expectUnauthorized(mode, { auth: { token } });
    assert.deepStrictEqual(data, { status: 'error', message: 'Unauthorized', reason: 'token expired' });
  });

  it('a token signed with another secret → reason "invalid token signature"', T, async () => {
    const token = signJwt({ sub: 'ada', exp: nowSeconds() + 60 }, 'another-secret');
    const data = await expectUnauthorized(mode, { auth: { token } });
    assert.deepStrictEqual(data, { status: 'error', message: 'Unauthorized', reason: 'invalid token signature' });
  });

  it('an HS512 token signed with the right secret → reason "token signed with an unexpected algorithm"', T, async () => {
    const token = signJwt({ sub: 'ada', exp: nowSeconds() + 60 }, GATEWAY_JWT_SECRET, { alg: 'HS512' });
    const data = await expectUnauthorized(mode, { auth: { token } });
    assert.deepStrictEqual(data, {
      status: 'error',
      message: 'Unauthorized',
      reason: 'token signed with an unexpected algorithm',
    });
  });

  it('an alg "none" (unsigned) token → refused', T, async () => {
    const token = signJwt({ sub: 'ada', exp: nowSeconds() + 60 }, '', { alg: 'none' });
    const data = await expectUnauthorized(mode, { auth: { token } });
    // What is wrong, without the JWT parser's internals ("unknown variant `none`, …").
    assert.equal(data.reason, 'invalid token');
  });

  it('an alg "none" token carrying an HS256 signature → refused', T, async () => {
    const good = validToken('ada').split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const data = await expectUnauthorized(mode, { auth: { token: `${header}.${good[1]}.${good[2]}` } });
    assert.equal(typeof data.reason, 'string');
  });

  it('a token whose claims were changed after signing → reason "invalid token signature"', T, async () => {
    const [h, , s] = validToken('ada').split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'root', exp: nowSeconds() + 60 })).toString('base64url');
    const data = await expectUnauthorized(mode, { auth: { token: `${h}.${forged}.${s}` } });
    assert.equal(data.reason, 'invalid token signature');
  });

  it('a token valid only in the future (nbf) → reason "token not valid yet"', T, async () => {
    const token = signJwt({ sub: 'ada', exp: nowSeconds() + 600, nbf: nowSeconds() + 300 }, GATEWAY_JWT_SECRET);
    const data = await expectUnauthorized(mode, { auth: { token } });
    assert.equal(data.reason, 'token not valid yet');
  });

  it('a token without exp → refused', T, async () => {
    const token = signJwt({ sub: 'ada' }, GATEWAY_JWT_SECRET);
    const data = await expectUnauthorized(mode, { auth: { token } });
    assert.ok(data.reason.startsWith('invalid token'), `reason ${JSON.stringify(data.reason)}`);
  });

  it('garbage instead of a token → reason "invalid token: ..."', T, async () => {
    const data = await expectUnauthorized(mode, { auth: { token: 'not-a-jwt' } });
    assert.ok(data.reason.startsWith('invalid token'), `reason ${JSON.stringify(data.reason)}`);
  });

  it('a non-string auth.token is no token', T, async () => {
    const data = await expectUnauthorized(mode, { auth: { token: 12345 } });
    assert.equal(data.reason, 'no token');
  });

  it('a refused /secure socket does not affect "/" on its own connection', T, async () => {
    const root = await connect(srv, mode, { welcome: false });
    await expectUnauthorized(mode, { auth: { token: 'bad' } });
    assert.deepStrictEqual(await emitAck(root.socket, 'ok', 'still'), ['still']);
  });
});

// Browsers cannot set headers on a WebSocket; node's client sends extraHeaders with the
// polling requests, so the header case runs over polling only.
forEachMode(
  (mode) => {
    it('a valid token in "Authorization: Bearer <token>" → connects', T, async () => {
      const c = await gconnect(mode, {
        opts: { extraHeaders: { Authorization: `Bearer ${validToken('header-user')}` } },
      });
      assert.deepStrictEqual(await emitAck(c.socket, 'whoami'), ['header-user']);
    });

    it('"Authorization: Bearer" with an expired token → reason "token expired"', T, async () => {
      const token = signJwt({ sub: 'ada', exp: nowSeconds() - 5 }, GATEWAY_JWT_SECRET);
      const data = await expectUnauthorized(mode, { opts: { extraHeaders: { Authorization: `Bearer ${token}` } } });
      assert.equal(data.reason, 'token expired');
    });

    it('an Authorization header without the Bearer scheme is no token', T, async () => {
      const data = await expectUnauthorized(mode, { opts: { extraHeaders: { Authorization: `Basic ${validToken()}` } } });
      assert.equal(data.reason, 'no token');
    });
  },
  MODES.filter((m) => m.name === 'polling'),
);

// A token that expires while connected: the client gets exception "token expired" (from
// the message guard, or the guard's expiry watch), then is disconnected by the server.
// Token expiry counts whole seconds, so this test waits up to ~3 s (websocket only).
forEachMode(
  (mode) => {
    it('a token expiring while connected → exception "Unauthorized" / "token expired", then "io server disconnect"', T, async () => {
      const token = signJwt({ sub: 'ada', exp: nowSeconds() + 2 }, GATEWAY_JWT_SECRET);
      const c = await gconnect(mode, { auth: { token } });
      const gone = waitEvent(c.socket, 'disconnect', { timeout: 8_000 });
      assert.deepStrictEqual(await emitAck(c.socket, 'whoami'), ['ada']);
      // one pending take for the whole loop, so the exception cannot go to an abandoned waiter
      const exception = c.rec.take('exception', { timeout: 6_000 }).then(
        (args) => ({ exception: args }),
        () => ({ exception: null }),
      );
      const deadline = Date.now() + 5_000;
      let refused = null;
      while (!refused && Date.now() < deadline) {
        const answer = emitAck(c.socket, 'whoami').then(
          (r) => ({ ack: r }),
          () => ({ ack: null }),
        );
        const first = await Promise.race([answer, exception]);
        if (first.exception) refused = first.exception;
        else {
          assert.deepStrictEqual(first.ack, ['ada'], 'accepted before the expiry');
          await delay(250);
        }
      }
      assert.ok(refused, 'the message guard refused a message after the token expired');
      assert.deepStrictEqual(refused, [{ status: 'error', message: 'Unauthorized', reason: 'token expired' }]);
      // Then the socket is disconnected by the server: it must log in again.
      const [reason] = await gone;
      assert.equal(reason, 'io server disconnect');
    });

    it('a token refreshed before it expires keeps the socket connected past the old expiry', T, async () => {
      const c = await gconnect(mode, { auth: { token: signJwt({ sub: 'ada', exp: nowSeconds() + 2 }, GATEWAY_JWT_SECRET) } });
      const fresh = signJwt({ sub: 'ada', exp: nowSeconds() + 60 }, GATEWAY_JWT_SECRET);
      assert.deepStrictEqual(await emitAck(c.socket, 'refresh-token', fresh), [true]);
      await delay(3_200);
      assert.equal(c.socket.connected, true);
      assert.deepStrictEqual(await emitAck(c.socket, 'whoami'), ['ada']);
      assert.equal(c.rec.count('exception'), 0);
    });

    it('a refresh token for another user is refused; the socket stays who it was', T, async () => {
      const c = await gconnect(mode, { auth: { token: validToken('ada') } });
      c.socket.emit('refresh-token', validToken('mallory'), () => {});
      const [exception] = await c.rec.take('exception');
      assert.equal(exception.message, 'the token is for another user');
      assert.deepStrictEqual(await emitAck(c.socket, 'whoami'), ['ada']);
    });

    it('a bad refresh token is refused; the socket keeps its claims', T, async () => {
      const c = await gconnect(mode, { auth: { token: validToken('ada') } });
      c.socket.emit('refresh-token', 'not-a-jwt', () => {});
      const [exception] = await c.rec.take('exception');
      assert.equal(exception.message, 'invalid token: not a JWT');
      assert.deepStrictEqual(await emitAck(c.socket, 'whoami'), ['ada']);
    });
  },
  MODES.filter((m) => m.name === 'websocket'),
);
