// Gateway fixture (tests/src/bin/gateway_server.rs): connection guards (refusing with an
// object error or with "Forbidden resource"), the OnGatewayConnection /
// OnGatewayDisconnect hooks (recorded in the fixture's journal, failing, panicking),
// and a gateway on a dynamic namespace (regex "^/team-\d+$").
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  T,
  connect,
  createSocket,
  delay,
  emitAck,
  forEachMode,
  useGatewayServer,
  waitConnectError,
} from './helpers.mjs';

const srv = useGatewayServer();

function gconnect(mode, options = {}) {
  return connect(srv, mode, { welcome: false, ...options });
}

/** Asks `asker` for the journal of socket `id` until `done(journal)` (at most `tries` times, `every` ms apart). */
async function pollJournal(asker, id, done, { tries = 40, every = 50 } = {}) {
  let journal;
  for (let i = 0; i < tries; i += 1) {
    [journal] = await emitAck(asker.socket, 'journal', id);
    if (done(journal)) return journal;
    await delay(every);
  }
  return journal;
}

forEachMode((mode) => {
  // ----- connection guard -----------------------------------------------------------

  it('auth {refuse:true} → connect_error "refused by guard" with data {message, reason}', T, async () => {
    const socket = createSocket(srv, mode, { auth: { refuse: true } });
    const err = await waitConnectError(socket);
    assert.equal(err.message, 'refused by guard');
    assert.deepStrictEqual(err.data, { message: 'refused by guard', reason: 'test' });
    assert.equal(socket.connected, false);
    assert.equal(socket.active, false, 'a middleware refusal is final (no reconnection)');
  });

  it('auth {deny:true} → connect_error "Forbidden resource" (no data)', T, async () => {
    const socket = createSocket(srv, mode, { auth: { deny: true } });
    const err = await waitConnectError(socket);
    assert.equal(err.message, 'Forbidden resource');
    assert.equal(err.data, undefined);
    assert.equal(socket.connected, false);
  });

  it('a refused socket does not hurt a connected one', T, async () => {
    const ok = await gconnect(mode);
    const refused = createSocket(srv, mode, { auth: { refuse: true } });
    await waitConnectError(refused);
    assert.deepStrictEqual(await emitAck(ok.socket, 'ok', 'alive'), ['alive']);
  });

  // ----- hooks and the journal --------------------------------------------------------

  it('journal of a connected socket → ["connection-guard", "handle_connection"]', T, async () => {
    const c = await gconnect(mode);
    assert.deepStrictEqual(await emitAck(c.socket, 'journal'), [['connection-guard', 'handle_connection']]);
    // the same through its id
    assert.deepStrictEqual(await emitAck(c.socket, 'journal', c.socket.id), [['connection-guard', 'handle_connection']]);
    // the guard ran once: messages do not run connection guards
    assert.deepStrictEqual(await emitAck(c.socket, 'journal'), [['connection-guard', 'handle_connection']]);
  });

  it('journal of an unknown socket id → []', T, async () => {
    const c = await gconnect(mode);
    assert.deepStrictEqual(await emitAck(c.socket, 'journal', 'no-such-socket'), [[]]);
  });

  it('client-side disconnect → handle_disconnect with "client namespace disconnect"', T, async () => {
    const a = await gconnect(mode);
    const b = await gconnect(mode);
    const id = a.socket.id;
    a.socket.disconnect();
    const expected = ['connection-guard', 'handle_connection', 'handle_disconnect:client namespace disconnect'];
    const journal = await pollJournal(b, id, (j) => j.length >= 3);
    assert.deepStrictEqual(journal, expected);
  });

  it('closing the connection → handle_disconnect with "transport close"', T, async () => {
    const a = await gconnect(mode);
    const b = await gconnect(mode);
    const id = a.socket.id;
    a.socket.io.engine.close();
    const journal = await pollJournal(b, id, (j) => j.length >= 3);
    assert.deepStrictEqual(journal, ['connection-guard', 'handle_connection', 'handle_disconnect:transport close']);
  });

  it('auth {fail_hook:true} → connects, then the exception {"status":"error","message":"hook failed","cause":{"pattern":"connection"}}', T, async () => {
    const c = await gconnect(mode, { auth: { fail_hook: true } });
    assert.deepStrictEqual(await c.rec.take('exception'), [
      { status: 'error', message: 'hook failed', cause: { pattern: 'connection' } },
    ]);
    assert.equal(c.socket.connected, true);
    assert.deepStrictEqual(await emitAck(c.socket, 'ok', 'after hook'), ['after hook']);
    assert.deepStrictEqual(await emitAck(c.socket, 'journal'), [['connection-guard', 'handle_connection']]);
    assert.equal(c.rec.count('exception'), 1);
  });

  it(
    'auth {fail_hook:true} → the exception, exact bytes (key order)',
    T,
    async () => {
      const c = await gconnect(mode, { auth: { fail_hook: true } });
      const [payload] = await c.rec.take('exception');
      assert.equal(JSON.stringify(payload), '{"status":"error","message":"hook failed","cause":{"pattern":"connection"}}');
    },
  );

  it('auth {panic_hook:true} → connects, exception "Internal server error", the server stays alive', T, async () => {
    const c = await gconnect(mode, { auth: { panic_hook: true } });
    assert.deepStrictEqual(await c.rec.take('exception'), [
      { status: 'error', message: 'Internal server error', cause: { pattern: 'connection' } },
    ]);
    assert.equal(c.socket.connected, true);
    assert.deepStrictEqual(await emitAck(c.socket, 'ok', 1), [1]);
    const other = await gconnect(mode);
    assert.deepStrictEqual(await emitAck(other.socket, 'ok', 2), [2]);
    assert.equal(srv.server.exit, null, 'server process still running');
  });

  // ----- dynamic namespace ------------------------------------------------------------

  for (const nsp of ['/team-7', '/team-0', '/team-123456']) {
    it(`${nsp} (regex "^/team-\\d+$") connects; where → "${nsp}"`, T, async () => {
      const c = await gconnect(mode, { nsp });
      assert.equal(c.socket.nsp, nsp);
      assert.deepStrictEqual(await emitAck(c.socket, 'where'), [nsp]);
    });
  }

  it('two /team-<n> namespaces are told apart', T, async () => {
    const [a, b] = await Promise.all([gconnect(mode, { nsp: '/team-1' }), gconnect(mode, { nsp: '/team-2' })]);
    const [ra, rb] = await Promise.all([emitAck(a.socket, 'where'), emitAck(b.socket, 'where')]);
    assert.deepStrictEqual([ra, rb], [['/team-1'], ['/team-2']]);
  });

  for (const nsp of ['/team-x', '/team-', '/team-7a', '/teams-7', '/nope']) {
    it(`${nsp} → connect_error "Invalid namespace"`, T, async () => {
      const socket = createSocket(srv, mode, { nsp });
      const err = await waitConnectError(socket);
      assert.equal(err.message, 'Invalid namespace');
      assert.equal(socket.connected, false);
    });
  }

  it('an unknown event gets no answer and no exception; the socket keeps working', T, async () => {
    const c = await gconnect(mode);
    let acked = false;
    c.socket.emit('no-such-event', 1, () => {
      acked = true;
    });
    assert.deepStrictEqual(await emitAck(c.socket, 'ok', 'x'), ['x']);
    await delay(200);
    assert.equal(acked, false, 'no ack');
    assert.equal(c.rec.count('exception'), 0, 'no exception event');
  });
});
