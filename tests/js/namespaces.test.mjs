// Namespaces: "/admin" (token middleware), dynamic "/dyn-<digits>", unknown
// namespaces, and multiplexing several namespaces over one connection.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  T,
  Recorder,
  assertDeepEqualBinary,
  barrier,
  connect,
  createManager,
  createSocket,
  emitAck,
  forEachMode,
  managerSocket,
  ready,
  useServer,
  waitConnect,
  waitEvent,
} from './helpers.mjs';

const srv = useServer();

/** Call right after creating the socket (before any await), so the event cannot be missed. */
async function expectConnectError(socket) {
  const [err] = await waitEvent(socket, 'connect_error');
  assert.ok(err instanceof Error);
  assert.equal(socket.connected, false);
  return err;
}

async function expectEchoWorks(socket) {
  const bin = { b: Buffer.from([socket.nsp.length, 0, 255]) };
  const res = await emitAck(socket, 'echo', socket.nsp, 1, bin);
  assertDeepEqualBinary(res, [socket.nsp, 1, bin]);
}

forEachMode((mode) => {
  // ----- /admin ---------------------------------------------------------------

  for (const [label, auth] of [
    ['without auth', undefined],
    ['with a wrong token', { token: 'wrong' }],
    ['with a non-string token', { token: 12345 }],
    ['with the root namespace reject flag only', { reject: false }],
  ]) {
    it(`/admin rejects ${label} with "unauthorized" / {code: 401}`, T, async () => {
      const socket = createSocket(srv, mode, { nsp: '/admin', auth });
      const err = await expectConnectError(socket);
      assert.equal(err.message, 'unauthorized');
      assert.deepStrictEqual(err.data, { code: 401 });
      assert.equal(socket.active, false);
    });
  }

  it('/admin accepts token "secret"; echo works with and without ack', T, async () => {
    const c = await connect(srv, mode, { nsp: '/admin', auth: { token: 'secret' } });
    assert.equal(typeof c.id, 'string');
    assert.notEqual(c.id, c.socket.io.engine.id);
    await expectEchoWorks(c.socket);
    const bin = [Buffer.from('admin'), { deep: [Buffer.alloc(2, 1)] }];
    c.socket.emit('echo', 'plain', ...bin);
    assertDeepEqualBinary(await c.rec.take('echo'), ['plain', ...bin]);
  });

  it('/admin does not get the "/" welcome', T, async () => {
    const c = await connect(srv, mode, { nsp: '/admin', auth: { token: 'secret' } });
    await barrier(c);
    assert.equal(c.rec.count('welcome'), 0);
  });

  // ----- dynamic namespaces ---------------------------------------------------

  for (const nsp of ['/dyn-1', '/dyn-42', '/dyn-0', '/dyn-9876543210']) {
    it(`${nsp} (dynamic) connects, emits "dyn" with its name and echoes`, T, async () => {
      const c = await connect(srv, mode, { nsp });
      assert.equal(c.socket.nsp, nsp);
      assert.deepStrictEqual(await c.rec.take('dyn'), [nsp]);
      assert.notEqual(c.id, c.socket.io.engine.id);
      await expectEchoWorks(c.socket);
      c.socket.emit('echo', 'no-ack', nsp);
      assert.deepStrictEqual(await c.rec.take('echo'), ['no-ack', nsp]);
      assert.equal(c.rec.count('welcome'), 0, 'no "/" welcome on a dynamic namespace');
    });
  }

  it('two dynamic namespaces are independent', T, async () => {
    const [a, b] = await Promise.all([connect(srv, mode, { nsp: '/dyn-11' }), connect(srv, mode, { nsp: '/dyn-12' })]);
    assert.deepStrictEqual(await a.rec.take('dyn'), ['/dyn-11']);
    assert.deepStrictEqual(await b.rec.take('dyn'), ['/dyn-12']);
    await expectEchoWorks(a.socket);
    await expectEchoWorks(b.socket);
  });

  // ----- invalid namespaces ---------------------------------------------------

  for (const nsp of ['/nope', '/dyn-', '/dyn-abc', '/dyn-1x', '/dyn-1/2', '/DYN-1', '/admin2']) {
    it(`${nsp} gives connect_error "Invalid namespace"`, T, async () => {
      const socket = createSocket(srv, mode, { nsp });
      const err = await expectConnectError(socket);
      assert.equal(err.message, 'Invalid namespace');
      assert.equal(socket.active, false);
    });
  }

  // ----- multiplexing ---------------------------------------------------------

  it('"/", "/admin" and "/dyn-1" of one Manager share one engine connection', T, async () => {
    const manager = createManager(srv, mode);
    let opens = 0;
    manager.on('open', () => {
      opens += 1;
    });
    const sockets = {
      root: managerSocket(manager, '/'),
      admin: managerSocket(manager, '/admin', { auth: { token: 'secret' } }),
      dyn: managerSocket(manager, '/dyn-1'),
    };
    const recs = Object.fromEntries(Object.entries(sockets).map(([k, s]) => [k, new Recorder(s)]));
    const root = await ready(sockets.root, recs.root, mode);
    const admin = await ready(sockets.admin, recs.admin, mode);
    const dyn = await ready(sockets.dyn, recs.dyn, mode);
    assert.deepStrictEqual(await dyn.rec.take('dyn'), ['/dyn-1']);
    assert.deepStrictEqual(root.welcome, { id: root.socket.id });

    const engine = manager.engine;
    assert.equal(opens, 1, 'one Engine.IO connection was opened');
    for (const c of [root, admin, dyn]) assert.equal(c.socket.io.engine, engine);
    const ids = [root, admin, dyn].map((c) => c.socket.id);
    assert.equal(new Set([...ids, engine.id]).size, 4, 'distinct socket ids, all different from the engine sid');

    // concurrent traffic on all three namespaces is routed to the right socket
    await Promise.all([root, admin, dyn].map((c) => expectEchoWorks(c.socket)));
    for (const c of [root, admin, dyn]) c.socket.emit('echo', 'mux', c.socket.nsp);
    for (const c of [root, admin, dyn]) assert.deepStrictEqual(await c.rec.take('echo'), ['mux', c.socket.nsp]);
    await barrier(root, admin, dyn);
    assert.equal(recs.admin.count('welcome') + recs.dyn.count('welcome'), 0, 'welcome only on "/"');
    assert.equal(recs.root.count('dyn') + recs.admin.count('dyn'), 0, '"dyn" only on the dynamic namespace');
    assert.equal(opens, 1);
    assert.equal(manager.engine, engine);
  });

  it('leaving one namespace keeps the others working on the same connection', T, async () => {
    const manager = createManager(srv, mode);
    const rootSocket = managerSocket(manager, '/');
    const adminSocket = managerSocket(manager, '/admin', { auth: { token: 'secret' } });
    const [rootRec, adminRec] = [new Recorder(rootSocket), new Recorder(adminSocket)];
    const root = await ready(rootSocket, rootRec, mode);
    const admin = await ready(adminSocket, adminRec, mode);
    const sid = manager.engine.id;
    admin.socket.disconnect();
    await expectEchoWorks(root.socket);
    assert.equal(manager.engine.id, sid);
    // and re-joining it works on the same connection
    admin.socket.connect();
    await waitConnect(admin.socket);
    await expectEchoWorks(admin.socket);
    assert.equal(manager.engine.id, sid);
  });

  it('a rejected namespace does not affect the others on the same connection', T, async () => {
    const manager = createManager(srv, mode);
    const rootSocket = managerSocket(manager, '/');
    const badAdmin = managerSocket(manager, '/admin', { auth: { token: 'bad' } });
    const nope = managerSocket(manager, '/nope');
    const errors = Promise.all([expectConnectError(badAdmin), expectConnectError(nope)]);
    const root = await ready(rootSocket, new Recorder(rootSocket), mode);
    const [adminErr, nopeErr] = await errors;
    assert.equal(adminErr.message, 'unauthorized');
    assert.deepStrictEqual(adminErr.data, { code: 401 });
    assert.equal(nopeErr.message, 'Invalid namespace');
    await expectEchoWorks(root.socket);
    assert.equal(root.socket.connected, true);
  });

  it('"/" middleware rejection on a multiplexed connection leaves "/admin" connected', T, async () => {
    const manager = createManager(srv, mode);
    const rejected = managerSocket(manager, '/', { auth: { reject: true } });
    const rejection = expectConnectError(rejected);
    const adminSocket = managerSocket(manager, '/admin', { auth: { token: 'secret' } });
    const adminRec = new Recorder(adminSocket);
    const err = await rejection;
    assert.equal(err.message, 'rejected');
    assert.deepStrictEqual(err.data, { reason: 'test' });
    const admin = await ready(adminSocket, adminRec, mode);
    await expectEchoWorks(admin.socket);
  });
});
