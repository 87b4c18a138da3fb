// WebSocket compression (permessage-deflate, RFC 7692) with DEFLATE=1024: the
// official client (which offers it through `ws`) and a raw `ws` client get it
// negotiated; messages of 1024 bytes and more travel compressed both ways (the
// bytes on the wire are counted through a relay); a compressed message that
// inflates past MAX_PAYLOAD closes that connection with 1009; a server without
// compression declines the offer.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import {
  MODES,
  T,
  assertDeepEqualBinary,
  connect,
  emitAck,
  forEachMode,
  freshServer,
  relay,
  useServer,
  waitEvent,
} from './helpers.mjs';

const srv = useServer({ DEFLATE: '1024', MAX_PAYLOAD: '100000' });
const wsModes = MODES.filter((m) => m.name !== 'polling');

/** The extensions the client's WebSocket negotiated. */
const negotiated = (socket) => socket.io.engine.transport.ws.extensions;

forEachMode((mode) => {
  it('the official client negotiates permessage-deflate; large payloads round-trip compressed', T, async () => {
    const net = await relay(srv);
    const c = await connect(net, mode);
    assert.match(negotiated(c.socket), /permessage-deflate/);
    const text = 'all work and no play makes a dull socket '.repeat(1000); // 41 kB
    const before = net.fromServer;
    assert.deepStrictEqual(await emitAck(c.socket, 'echo', text), [text]);
    const sent = net.fromServer - before;
    assert.ok(sent < 5_000, `the 41 kB answer took ${sent} bytes on the wire`);
    const bin = Buffer.alloc(30_000, 7);
    assertDeepEqualBinary(await emitAck(c.socket, 'echo', bin, 'small'), [bin, 'small']);
    assert.deepStrictEqual(await emitAck(c.socket, 'echo', 'tiny'), ['tiny']);
  });
}, wsModes);

it('a message that inflates past max_payload closes that connection with 1009; others go on', T, async () => {
  const bystander = await connect(srv, MODES[0]);
  const url = `${srv.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
  const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0 } });
  await waitEvent(ws, 'open');
  assert.match(ws.extensions, /permessage-deflate/);
  const closed = waitEvent(ws, 'close');
  ws.send(`4${'a'.repeat(2_000_000)}`); // ~2 kB on the wire, 2 MB inflated
  const [code] = await closed;
  assert.equal(code, 1009);
  assert.deepStrictEqual(await emitAck(bystander.socket, 'echo', 'still here'), ['still here']);
});

it('a server without compression declines the offer', T, async () => {
  const plain = await freshServer();
  const url = `${plain.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
  const ws = new WebSocket(url, { perMessageDeflate: true });
  await waitEvent(ws, 'open');
  assert.equal(ws.extensions, '');
  ws.close();
});
