// Per-connection limits with the official client: the outgoing byte budget
// (MAX_BUFFERED_BYTES), rooms per socket (MAX_ROOMS) and namespaces per
// connection (MAX_NAMESPACES). The offender gets the documented error or close;
// everybody else keeps working.
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MODES,
  T,
  Recorder,
  connect,
  createManager,
  delay,
  freshServer,
  emitAck,
  encodePayload,
  eioUrl,
  pollingHandshake,
  rawRequest,
  forEachMode,
  managerSocket,
  ready,
  useServer,
  waitEvent,
  wsHandshake,
} from './helpers.mjs';

const BUDGET = 1_000_000;
const srv = useServer({ MAX_BUFFERED_BYTES: String(BUDGET), MAX_ROOMS: '3', MAX_NAMESPACES: '2' });

/** The server's peak resident memory so far, in bytes (Linux). */
function peakRss(server) {
  const status = readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

// A raw polling client asks, in one POST, for 2 000 answers of 100 kB (200 MB)
// and never polls for them: the server stops handling its requests once half
// the budget waits, and closes it when its heartbeat times out.
it('polling: 3 clients asking for 200 MB of answers each, never polling, cannot grow the server past 64 MB', { timeout: 20_000 }, async () => {
  const attack = async () => {
    const { sid } = await pollingHandshake(srv, '/socket.io/');
    const url = eioUrl(srv, '/socket.io/', { transport: 'polling', sid });
    assert.equal((await rawRequest(url, { method: 'POST', body: '40' })).text, 'ok');
    const events = Array.from({ length: 2_000 }, (_, i) => `42${i}["big",100000]`);
    const res = await rawRequest(url, { method: 'POST', body: encodePayload(events), timeout: 15_000 });
    assert.equal(res.status, 200);
    // The session is gone: its next poll is refused.
    const next = await rawRequest(url, { timeout: 5_000 });
    assert.ok([200, 400].includes(next.status));
    if (next.status === 200) assert.match(next.text, /(^|\x1e)1$/, 'a close packet');
  };
  const bystander = await connect(srv, MODES[0]);
  await Promise.all([attack(), attack(), attack()]);
  const peak = peakRss(srv.server);
  assert.ok(peak < 64 * 1024 * 1024, `peak RSS ${(peak / 1048576).toFixed(1)} MB`);
  assert.deepStrictEqual(await emitAck(bystander.socket, 'big', 10), ['b'.repeat(10)]);
});

/** The server's resident memory now, in bytes (Linux). */
function rss(server) {
  const status = readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

// Read buffers return to their resting size after a large message: 200
// WebSocket clients each sending one 900 kB event, then idling, cost little.
it('200 WebSocket clients × one 900 kB message, then idle: under 20 KiB each afterwards', { timeout: 30_000 }, async () => {
  // socket.io's default heartbeat: sending 180 MB keeps this process busy.
  const server = await freshServer({ PING_MS: "20000" });
  const before = rss(server);
  const clients = [];
  for (let i = 0; i < 200; i++) {
    const { ws } = await wsHandshake(server, '/socket.io/', { autoPong: true });
    ws.ws.send('40');
    clients.push(ws);
  }
  for (const ws of clients) await ws.nextText();
  const text = `42["unheard","${'z'.repeat(900_000)}"]`;
  for (const ws of clients) ws.ws.send(text);
  // Each is read and handled (an unknown event: ignored) once the server's echo of a
  // ping comes back after it.
  await Promise.all(
    clients.map((ws) => new Promise((resolve) => {
      ws.ws.once('pong', resolve);
      ws.ws.ping();
    })),
  );
  await delay(1_000);
  const after = rss(server);
  const each = (after - before) / 200;
  for (const ws of clients) ws.ws.close();
  if (process.env.E2E_VERBOSE) console.log(`idle after a 900 kB message: ${(each / 1024).toFixed(1)} KiB per connection`);
  assert.ok(each < 20 * 1024, `${(each / 1024).toFixed(1)} KiB per connection`);
});

forEachMode((mode) => {
  it('a client reading its answers gets 6 MB of them through a 1 MB budget, slowed down, not closed', T, async () => {
    const c = await connect(srv, mode);
    const answers = await Promise.all(
      Array.from({ length: 60 }, () => emitAck(c.socket, 'big', 100_000)),
    );
    assert.ok(answers.every(([a]) => a.length === 100_000));
    assert.equal(c.socket.connected, true);
  });

  it('a socket beyond MAX_ROOMS is refused the room, and told why', T, async () => {
    const c = await connect(srv, mode);
    for (const room of ['a', 'b', 'c']) {
      assert.deepStrictEqual(await emitAck(c.socket, 'try-join', room), [{ ok: true }]);
    }
    assert.deepStrictEqual(await emitAck(c.socket, 'try-join', 'a'), [{ ok: true }], 'a room it is in already');
    assert.deepStrictEqual(await emitAck(c.socket, 'try-join', 'd'), [
      { err: 'Too many rooms (at most 3 per socket)' },
    ]);
    assert.deepStrictEqual((await emitAck(c.socket, 'rooms'))[0].length, 4, 'its id room and a, b, c');
    const other = await connect(srv, mode);
    assert.deepStrictEqual(await emitAck(other.socket, 'try-join', 'd'), [{ ok: true }]);
  });

  it('a namespace beyond MAX_NAMESPACES gets connect_error; the connection and its namespaces stay', T, async () => {
    const manager = createManager(srv, mode);
    const main = managerSocket(manager, '/');
    const mainRec = new Recorder(main);
    await ready(main, mainRec, mode);
    const dyn = managerSocket(manager, '/dyn-1');
    await waitEvent(dyn, 'connect');
    const third = managerSocket(manager, '/dyn-2');
    const [err] = await waitEvent(third, 'connect_error');
    assert.equal(err.message, 'Too many namespaces on this connection');
    assert.equal(main.connected, true);
    assert.deepStrictEqual(await emitAck(main, 'echo', 1), [1]);
    assert.deepStrictEqual(await emitAck(dyn, 'echo', 2), [2]);
    third.disconnect();
    // Once a namespace is left, another may be joined.
    dyn.disconnect();
    const again = managerSocket(manager, '/dyn-3');
    await waitEvent(again, 'connect');
    assert.deepStrictEqual(await emitAck(again, 'echo', 3), [3]);
  });
});
