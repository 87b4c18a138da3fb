// Gateway fixture (tests/src/bin/gateway_server.rs), namespace "/typed": a gateway checked
// against its #[socket_events] declaration, seen by the official client. A typed server
// event (`placed`), and one the client acknowledges (`confirm`) awaited by the handler,
// whose answer is read as the declared type.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { T, connect, emitAck, forEachMode, useGatewayServer } from './helpers.mjs';

const srv = useGatewayServer();

forEachMode((mode) => {
  it('the client confirms; the handler gets the declared type and acknowledges the outcome', T, async () => {
    const { socket, rec } = await connect(srv, mode, { nsp: '/typed', welcome: false });
    socket.on('confirm', (order, cb) => cb(order.id * 10));
    const [outcome] = await emitAck(socket, 'place', { id: 4, item: 'tea' });
    assert.deepStrictEqual(outcome, { confirmed: 40, error: null });
    assert.deepStrictEqual(await rec.take('placed'), [{ id: 4, item: 'tea' }]);
  });

  it('an answer of another type, or none, is an error the handler can report', { timeout: 15_000 }, async () => {
    const { socket } = await connect(srv, mode, { nsp: '/typed', welcome: false });
    socket.on('confirm', (order, cb) => cb(order.id === 1 ? 'not a number' : undefined));
    const [wrong] = await emitAck(socket, 'place', { id: 1, item: 'tea' });
    assert.equal(wrong.confirmed, null);
    assert.match(wrong.error, /not of the declared type/);
    socket.off('confirm');
    const [none] = await emitAck(socket, 'place', { id: 2, item: 'tea' });
    assert.equal(none.confirmed, null);
    assert.match(none.error, /no acknowledgement/);
  });
});
