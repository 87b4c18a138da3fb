// The admin UI's server side (gateway_runtime::admin, e2e_server with ADMIN_UI_HASH): the
// protocol of @socket.io/admin-ui spoken to an official socket.io-client as the UI does,
// then the official UI itself (its npm package's built files) in headless Chromium.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  HERE,
  MODES,
  connect,
  createSocket,
  delay,
  emitAck,
  uid,
  useServer,
  waitConnectError,
} from './helpers.mjs';

// bcrypt of "secret" (cost 4: the test does not need it slow).
const HASH = '$2b$04$UB47fQo9k3Bd.F0u7XU/ZuZ7o7PNzylMuzL0a7aD3rDxDwOAoNUvm';
const WS = MODES[0];
const T = { timeout: 20_000 };
const UI_DIST = path.join(HERE, 'node_modules/@socket.io/admin-ui/ui/dist');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

/** A logged-in admin client: { socket, rec, session, config, sockets }. */
async function admin(srv, auth = { username: 'admin', password: 'secret' }) {
  const c = await connect(srv, WS, { nsp: '/admin', auth, welcome: false });
  const config = (await c.rec.take('config'))[0];
  return { ...c, config };
}

describe('admin UI protocol (development mode)', () => {
  const srv = useServer({ ADMIN_UI_HASH: HASH });

  it('wrong credentials: connect_error "invalid credentials"; right ones: a session', T, async () => {
    for (const auth of [{ username: 'admin', password: 'nope' }, { username: 'root', password: 'secret' }, {}]) {
      const s = createSocket(srv, WS, { nsp: '/admin', auth });
      const err = await waitConnectError(s);
      assert.equal(err.message, 'invalid credentials');
      s.disconnect();
    }
    const a = await admin(srv);
    const [session] = await a.rec.take('session');
    assert.match(session, /^[0-9a-f]{16}$/);
    // The session logs in again without the password (the UI's reload).
    const again = await admin(srv, { sessionId: session });
    assert.ok(again.socket.connected);
    const stale = createSocket(srv, WS, { nsp: '/admin', auth: { sessionId: 'ffffffffffffffff' } });
    assert.equal((await waitConnectError(stale)).message, 'invalid credentials');
  });

  it('config, all_sockets, then server_stats every 2 s with namespaces and counts', T, async () => {
    const client = await connect(srv, WS);
    const a = await admin(srv);
    assert.deepStrictEqual(a.config.supportedFeatures, [
      'EMIT', 'JOIN', 'LEAVE', 'DISCONNECT', 'MJOIN', 'MLEAVE', 'MDISCONNECT', 'AGGREGATED_EVENTS', 'ALL_EVENTS',
    ]);
    const [sockets] = await a.rec.take('all_sockets');
    const mine = sockets.find((s) => s.id === client.id);
    assert.ok(mine, `the client is listed: ${JSON.stringify(sockets.map((s) => s.id))}`);
    assert.equal(mine.nsp, '/');
    assert.equal(mine.transport, 'websocket');
    assert.equal(mine.clientId.length, 12);
    assert.deepStrictEqual(mine.rooms, [client.id]);
    assert.equal(typeof mine.handshake.headers, 'object');
    assert.equal(mine.handshake.auth, undefined, 'auth (credentials) is not shown');
    assert.ok(sockets.some((s) => s.nsp === '/admin' && s.id === a.id), 'the admin socket too');

    await emitAck(client.socket, 'echo', 'x'.repeat(100));
    const [stats] = await a.rec.take('server_stats', { timeout: 5000 });
    assert.equal(stats.serverId, 'e2e');
    assert.equal(typeof stats.hostname, 'string');
    assert.equal(typeof stats.pid, 'number');
    assert.ok(stats.uptime > 0);
    assert.ok(stats.clientsCount >= 2);
    assert.equal(stats.pollingClientsCount, 0);
    const names = stats.namespaces.map((n) => n.name);
    assert.ok(names.includes('/') && names.includes('/admin'), JSON.stringify(names));
    const main = stats.namespaces.find((n) => n.name === '/');
    assert.ok(main.socketsCount >= 1);
    // Within two statistics, the echo shows up in the aggregated counts.
    const [next] = await a.rec.take('server_stats', { timeout: 5000 });
    const types = [...stats.aggregatedEvents, ...next.aggregatedEvents].map((e) => e.type);
    for (const t of ['packetsIn', 'bytesIn', 'packetsOut', 'bytesOut']) assert.ok(types.includes(t), `${t} in ${types}`);
    for (const e of [...stats.aggregatedEvents, ...next.aggregatedEvents]) {
      assert.equal(e.timestamp % 1000, 0, 'buckets are whole seconds');
      assert.ok(e.count > 0);
    }
  });

  it('sockets connecting, joining, sending and leaving are reported as they happen', T, async () => {
    const a = await admin(srv);
    const client = await connect(srv, WS);
    const [connected] = await waitFor(a, 'socket_connected', (args) => args[0].id === client.id);
    assert.equal(connected.nsp, '/');
    const room = uid('room');
    await emitAck(client.socket, 'join', room);
    const joined = await waitFor(a, 'room_joined', (args) => args[1] === room);
    assert.deepStrictEqual(joined.slice(0, 3), ['/', room, client.id]);
    assert.match(joined[3], /^\d{4}-\d\d-\d\dT/);
    await emitAck(client.socket, 'echo', { hello: 'admin' });
    const received = await waitFor(a, 'event_received', (args) => args[1] === client.id && args[2][0] === 'echo');
    assert.deepStrictEqual(received[2], ['echo', { hello: 'admin' }]);
    await emitAck(client.socket, 'leave', room);
    await waitFor(a, 'room_left', (args) => args[1] === room && args[2] === client.id);
    client.socket.disconnect();
    const gone = await waitFor(a, 'socket_disconnected', (args) => args[1] === client.id);
    assert.deepStrictEqual(gone.slice(0, 3), ['/', client.id, 'client namespace disconnect']);
  });

  it('a connection upgraded from polling to WebSocket is reported as socket_updated', T, async () => {
    const a = await admin(srv);
    const client = await connect(srv, MODES[2]);
    const [connected] = await waitFor(a, 'socket_connected', (args) => args[0].id === client.id);
    assert.equal(connected.transport, 'polling');
    const [updated] = await waitFor(a, 'socket_updated', (args) => args[0].id === client.id);
    assert.deepStrictEqual(updated, { id: client.id, nsp: '/', transport: 'websocket' });
  });

  it('commands: join, leave, emit and _disconnect act on the named socket or room', T, async () => {
    const a = await admin(srv);
    const client = await connect(srv, WS);
    const room = uid('by-admin');
    a.socket.emit('join', '/', room, client.id);
    await eventually(async () => (await emitAck(client.socket, 'rooms'))[0].includes(room));
    a.socket.emit('emit', '/', room, 'notice', { from: 'admin' });
    assert.deepStrictEqual(await client.rec.take('notice'), [{ from: 'admin' }]);
    a.socket.emit('leave', '/', room, client.id);
    await eventually(async () => !(await emitAck(client.socket, 'rooms'))[0].includes(room));
    // A namespace that does not exist is not created by a command.
    a.socket.emit('join', '/nope', room, client.id);
    const disconnected = new Promise((r) => client.socket.once('disconnect', r));
    a.socket.emit('_disconnect', '/', false, client.id);
    assert.equal(await disconnected, 'io server disconnect');
    const [stats] = await a.rec.take('server_stats', { timeout: 5000 });
    assert.ok(!stats.namespaces.some((n) => n.name === '/nope'));
  });
});

describe('admin UI protocol (read-only, production)', () => {
  const srv = useServer({ ADMIN_UI_HASH: HASH, ADMIN_UI_READONLY: '1', ADMIN_UI_MODE: 'production' });

  it('only statistics; commands are ignored', T, async () => {
    const client = await connect(srv, WS);
    const a = await admin(srv);
    assert.deepStrictEqual(a.config.supportedFeatures, ['AGGREGATED_EVENTS']);
    a.socket.emit('_disconnect', '/', true, client.id);
    const [stats] = await a.rec.take('server_stats', { timeout: 5000 });
    assert.ok(stats.clientsCount >= 2);
    await delay(300);
    assert.ok(client.socket.connected, 'read-only: not disconnected');
    assert.equal(a.rec.count('all_sockets'), 0);
    assert.equal(a.rec.count('socket_connected'), 0);
  });
});

describe('the official admin UI in headless Chromium', () => {
  const srv = useServer({ ADMIN_UI_HASH: HASH, ADMIN_UI_DIST: UI_DIST });
  let browser;
  before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, { timeout: 60_000 });
  after(async () => {
    if (browser) await browser.close();
  });

  it('logs in and lists this server and its sockets', { timeout: 60_000 }, async () => {
    const client = await connect(srv, WS);
    const context = await browser.newContext();
    await context.route('**/*', (route) => {
      const { hostname } = new URL(route.request().url());
      return hostname === '127.0.0.1' ? route.continue() : route.abort();
    });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${srv.url}/ui/index.html`);
    await page.waitForSelector('input[type=password]', { timeout: 15_000 });
    // The connection form: server URL, user, password.
    const inputs = page.locator('.v-dialog input');
    await inputs.nth(0).fill(srv.url);
    await page.locator('.v-dialog input[type=text]').nth(1).fill('admin');
    await page.locator('.v-dialog input[type=password]').fill('secret');
    await page.locator('.v-dialog button[type=submit], .v-dialog button:has-text("Connect")').first().click();
    // Connected: the Servers page lists "e2e"; the Sockets page lists the client.
    await page.goto(`${srv.url}/ui/index.html#/servers`);
    await page.waitForFunction(() => document.body.innerText.includes('e2e'), null, { timeout: 15_000 });
    await page.goto(`${srv.url}/ui/index.html#/sockets`);
    await page.waitForFunction((id) => document.body.innerText.includes(id), client.id, { timeout: 15_000 });
    assert.deepStrictEqual(errors, []);
  });
});

/** Waits for an `event` whose arguments pass `filter`; returns them. */
async function waitFor(c, event, filter, timeout = 5000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const found = c.rec.all(event).find(filter);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no ${event} matching in ${JSON.stringify(c.rec.all(event))}`);
    await delay(20);
  }
}

async function eventually(check, timeout = 5000) {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await delay(30);
  }
}
