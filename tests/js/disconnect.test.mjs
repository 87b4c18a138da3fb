// Server-initiated disconnections ("disconnect-me") and the official client's
// reconnection semantics:
// - a server-side namespace disconnect ("io server disconnect") is final: the
//   client does not reconnect by itself, socket.connect() does;
// - a lost connection ("transport close" / "transport error") makes the
//   Manager reconnect every socket it carries automatically.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  T,
  Recorder,
  barrier,
  connect,
  createManager,
  delay,
  emitAck,
  expectUpgraded,
  forEachMode,
  freshServer,
  managerSocket,
  ready,
  useServer,
  waitConnect,
  waitEvent,
} from './helpers.mjs';

const srv = useServer();

const RECONNECT = Object.freeze({
  reconnection: true,
  reconnectionDelay: 50,
  reconnectionDelayMax: 100,
  randomizationFactor: 0,
});
/** Longer than any reconnection delay above: if nothing reconnected by then, nothing will. */
const NO_RECONNECT_WINDOW = 500;
const TRANSPORT_REASONS = ['transport close', 'transport error'];

/** Counts Manager reconnection activity from now on. */
function watchReconnects(manager) {
  const seen = { attempts: 0, reconnects: 0 };
  manager.on('reconnect_attempt', () => {
    seen.attempts += 1;
  });
  manager.on('reconnect', () => {
    seen.reconnects += 1;
  });
  return seen;
}

/** Waits for the socket's next 'connect' (and "welcome" on "/"), checks a fresh id and a working echo. */
async function expectReconnected(c, oldId, mode) {
  await waitConnect(c.socket);
  assert.equal(c.socket.connected, true);
  assert.notEqual(c.socket.id, oldId, 'a new session gets a new socket id');
  if (c.socket.nsp === '/') {
    const [welcome] = await c.rec.take('welcome');
    assert.deepStrictEqual(welcome, { id: c.socket.id }, 'fresh welcome after reconnecting');
  }
  assert.notEqual(c.socket.id, c.socket.io.engine.id);
  if (mode.upgrade) await expectUpgraded(c.socket.io);
  assert.deepStrictEqual(await emitAck(c.socket, 'echo', 'back'), ['back']);
}

forEachMode((mode) => {
  for (const close of [false, true]) {
    it(`disconnect-me(${close}): "io server disconnect", no auto-reconnect, manual connect() works`, T, async () => {
      const c = await connect(srv, mode, { opts: RECONNECT });
      const seen = watchReconnects(c.socket.io);
      const oldId = c.id;
      const gone = waitEvent(c.socket, 'disconnect');
      c.socket.emit('disconnect-me', close);
      const [reason] = await gone;
      assert.equal(reason, 'io server disconnect');
      assert.equal(c.socket.connected, false);
      assert.equal(c.socket.active, false, 'the client will not reconnect by itself');

      let connects = 0;
      c.socket.on('connect', () => {
        connects += 1;
      });
      await delay(NO_RECONNECT_WINDOW);
      assert.equal(connects, 0, 'no automatic reconnection');
      assert.equal(seen.attempts, 0, 'the Manager made no reconnection attempt');
      assert.equal(c.rec.count('welcome'), 1, 'no second welcome without reconnecting');

      c.socket.connect();
      await expectReconnected(c, oldId, mode);
      assert.equal(connects, 1);
    });
  }

  it('disconnect-me(false) on "/" leaves the other namespaces of the connection alone', T, async () => {
    const manager = createManager(srv, mode, { opts: RECONNECT });
    const rootSocket = managerSocket(manager, '/');
    const rootRec = new Recorder(rootSocket);
    const adminSocket = managerSocket(manager, '/admin', { auth: { token: 'secret' } });
    const adminRec = new Recorder(adminSocket);
    const root = await ready(rootSocket, rootRec, mode);
    const admin = await ready(adminSocket, adminRec, mode);
    const engine = manager.engine;
    const sid = engine.id;
    let adminDisconnects = 0;
    admin.socket.on('disconnect', () => {
      adminDisconnects += 1;
    });

    const gone = waitEvent(root.socket, 'disconnect');
    root.socket.emit('disconnect-me', false);
    const [reason] = await gone;
    assert.equal(reason, 'io server disconnect');
    assert.equal(root.socket.active, false);

    await barrier(admin);
    assert.equal(adminDisconnects, 0);
    assert.equal(admin.socket.connected, true);
    assert.equal(manager.engine, engine, 'same engine');
    assert.equal(engine.id, sid, 'same Engine.IO session');
    assert.equal(engine.readyState, 'open');

    // "/" can come back on the same connection
    root.socket.connect();
    await waitConnect(root.socket);
    const [welcome] = await root.rec.take('welcome');
    assert.deepStrictEqual(welcome, { id: root.socket.id });
    assert.equal(manager.engine.id, sid, 'reconnected "/" over the same Engine.IO session');
  });

  it('disconnect-me(true) on "/" closes the whole connection; the other namespace reacts as the official client does', T, async () => {
    const manager = createManager(srv, mode, { opts: RECONNECT });
    const seen = watchReconnects(manager);
    const rootSocket = managerSocket(manager, '/');
    const rootRec = new Recorder(rootSocket);
    const dynSocket = managerSocket(manager, '/dyn-3');
    const dynRec = new Recorder(dynSocket);
    const root = await ready(rootSocket, rootRec, mode);
    const dyn = await ready(dynSocket, dynRec, mode);
    assert.equal(await dyn.rec.take1('dyn'), '/dyn-3');
    const oldDynId = dyn.socket.id;
    const sid = manager.engine.id;

    const rootGone = waitEvent(root.socket, 'disconnect');
    const dynGone = waitEvent(dyn.socket, 'disconnect');
    root.socket.emit('disconnect-me', true);
    const [[rootReason], [dynReason]] = await Promise.all([rootGone, dynGone]);

    assert.equal(rootReason, 'io server disconnect');
    assert.equal(root.socket.active, false, 'the disconnected socket stays down');

    if (TRANSPORT_REASONS.includes(dynReason)) {
      // the connection was closed under the other socket: the Manager reconnects it
      assert.equal(dyn.socket.active, true, 'a socket that lost its transport will reconnect');
      await waitConnect(dyn.socket);
      assert.equal(await dyn.rec.take1('dyn'), '/dyn-3', 'dynamic namespace connected again');
      assert.notEqual(dyn.socket.id, oldDynId);
      assert.notEqual(manager.engine.id, sid, 'a new Engine.IO session');
      assert.ok(seen.reconnects >= 1, 'Manager emitted "reconnect"');
      assert.deepStrictEqual(await emitAck(dyn.socket, 'echo', 'dyn-back'), ['dyn-back']);
      assert.equal(root.socket.connected, false, 'the socket disconnected by the server was not reconnected');
    } else {
      // the server disconnected every namespace of the connection before closing it
      // (what the reference JS server does): then nothing reconnects by itself
      assert.equal(dynReason, 'io server disconnect');
      assert.equal(dyn.socket.active, false);
      await delay(NO_RECONNECT_WINDOW);
      assert.equal(seen.attempts, 0, 'no reconnection attempt');
      assert.equal(dyn.socket.connected, false);
    }
  });

  it('a transport closed by the server (oversized packet) makes the Manager reconnect every namespace', T, async () => {
    const server = await freshServer({ MAX_PAYLOAD: '10000' });
    const manager = createManager(server, mode, { opts: RECONNECT });
    const seen = watchReconnects(manager);
    const rootSocket = managerSocket(manager, '/');
    const rootRec = new Recorder(rootSocket);
    const dynSocket = managerSocket(manager, '/dyn-7');
    const dynRec = new Recorder(dynSocket);
    const root = await ready(rootSocket, rootRec, mode);
    const dyn = await ready(dynSocket, dynRec, mode);
    assert.equal(await dyn.rec.take1('dyn'), '/dyn-7');
    const [oldRootId, oldDynId, sid] = [root.socket.id, dyn.socket.id, manager.engine.id];

    const rootGone = waitEvent(root.socket, 'disconnect');
    const dynGone = waitEvent(dyn.socket, 'disconnect');
    root.socket.emit('echo', 'x'.repeat(50_000));
    const [[rootReason], [dynReason]] = await Promise.all([rootGone, dynGone]);
    assert.ok(TRANSPORT_REASONS.includes(rootReason), `"/" disconnect reason: ${rootReason}`);
    assert.equal(dynReason, rootReason, 'both sockets saw the same transport loss');
    assert.equal(root.socket.active, true, 'will reconnect');
    assert.equal(dyn.socket.active, true, 'will reconnect');

    await Promise.all([expectReconnected(root, oldRootId, mode), expectReconnected(dyn, oldDynId, mode)]);
    assert.equal(await dyn.rec.take1('dyn'), '/dyn-7', 'dynamic namespace connected again');
    assert.notEqual(manager.engine.id, sid, 'a new Engine.IO session');
    assert.ok(seen.reconnects >= 1, 'Manager emitted "reconnect"');
    assert.equal(root.socket.io.engine, dyn.socket.io.engine, 'still multiplexed over one connection');
    assert.equal(root.rec.count('echo'), 0, 'the oversized message was never echoed');
  });

  it('a client-side disconnect does not reconnect and can be undone with connect()', T, async () => {
    const c = await connect(srv, mode, { opts: RECONNECT });
    const oldId = c.id;
    const gone = waitEvent(c.socket, 'disconnect');
    c.socket.disconnect();
    const [reason] = await gone;
    assert.equal(reason, 'io client disconnect');
    assert.equal(c.socket.active, false);
    c.socket.connect();
    await expectReconnected(c, oldId, mode);
  });
});
