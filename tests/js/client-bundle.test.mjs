// The browser client served by the server (socket.io's serveClient), from the
// socket.io-client package installed for these tests (CLIENT_DIST): the bytes of
// the package's files, JavaScript content type, an ETag of the client version,
// 304 for a matching If-None-Match, and a bundle that defines `io` when run.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { HERE, T, useServer } from './helpers.mjs';

const DIST = path.join(HERE, 'node_modules/socket.io-client/dist');
const VERSION = JSON.parse(readFileSync(path.join(DIST, '../package.json'), 'utf8')).version;
const srv = useServer({ CLIENT_DIST: DIST });

const get = (name, headers = {}) => fetch(`${srv.url}/socket.io/${name}`, { headers });

for (const name of ['socket.io.js', 'socket.io.min.js', 'socket.io.esm.min.js', 'socket.io.msgpack.min.js']) {
  it(`GET /socket.io/${name}: the package's file, with an ETag of its version`, T, async () => {
    const res = await get(name);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/javascript/);
    assert.equal(res.headers.get('etag'), `"${VERSION}"`);
    const body = Buffer.from(await res.arrayBuffer());
    assert.ok(body.equals(readFileSync(path.join(DIST, name))), 'same bytes as the package');
    const again = await get(name, { 'If-None-Match': `"${VERSION}"` });
    assert.equal(again.status, 304);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
  });
}

it('the source maps are served; other names under the path are not files', T, async () => {
  const map = await get('socket.io.min.js.map');
  assert.equal(map.status, 200);
  assert.ok(JSON.parse(await map.text()).mappings);
  assert.notEqual((await get('socket.io.other.js')).status, 200);
});

it('the UMD bundle defines io() when a page runs it', T, async () => {
  const code = await (await get('socket.io.min.js')).text();
  const page = { window: {}, self: {} };
  vm.runInNewContext(code, page);
  assert.equal(typeof page.io, 'function');
  assert.equal(typeof page.io.Manager, 'function');
});
