// Connection state recovery through the gateway framework (gateway fixture with
// RECOVERY_MS=3000): a recovered socket skips connection guards (socket.io's
// skipMiddlewares default), its OnGatewayConnection hook sees
// `client.recovered()`, and its JWT claims come back with it.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  GATEWAY_JWT_SECRET,
  T,
  createManager,
  delay,
  emitAck,
  forEachMode,
  managerSocket,
  nowSeconds,
  relay,
  signJwt,
  useGatewayServer,
  waitConnect,
  waitEvent,
} from './helpers.mjs';

const srv = useGatewayServer({ RECOVERY_MS: '3000' });

forEachMode((mode) => {
  it('a cut: guards skipped, handle_connection sees recovered, claims kept', T, async () => {
    const net = await relay(srv);
    const manager = createManager(net, mode);
    const main = managerSocket(manager, '/');
    const token = signJwt({ sub: 'ada', exp: nowSeconds() + 60 }, GATEWAY_JWT_SECRET);
    const secure = managerSocket(manager, '/secure', { auth: { token } });
    await Promise.all([waitConnect(main), waitConnect(secure)]);
    // An event carrying an offset, so the client has one to recover from.
    const answers = [waitEvent(main, 'emitted'), waitEvent(secure, 'hello')];
    main.emit('emit', 1);
    secure.emit('hello');
    await Promise.all(answers);
    const [mainId, secureId] = [main.id, secure.id];
    const observer = managerSocket(createManager(srv, mode), '/');
    await waitConnect(observer);

    const gone = waitEvent(main, 'disconnect');
    net.cut();
    await gone;
    for (let i = 0; i < 200; i++) {
      const [journal] = await emitAck(observer, 'journal', mainId);
      if (journal.some((e) => e.startsWith('handle_disconnect:'))) break;
      await delay(20);
    }
    net.heal();
    main.connect();
    secure.connect();
    await Promise.all([waitConnect(main), waitConnect(secure)]);
    assert.equal(main.id, mainId);
    assert.equal(secure.id, secureId);
    assert.ok(main.recovered && secure.recovered);
    const [journal] = await emitAck(observer, 'journal', mainId);
    assert.deepStrictEqual(journal.filter((e) => !e.startsWith('handle_disconnect:')), [
      'connection-guard',
      'handle_connection',
      'handle_connection',
      'recovered',
    ]);
    assert.deepStrictEqual(await emitAck(secure, 'whoami'), ['ada']);
  });
});
