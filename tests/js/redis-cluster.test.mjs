// A mixed cluster on one redis-server: two Rust nodes (redis_node_server, our Redis
// adapter) and one Node.js node (socket.io 4.8 + @socket.io/redis-adapter 8.x), with
// official socket.io-client clients on each. Everything a node does must reach the
// clients of every node exactly once, whichever implementation starts it. The whole
// suite runs twice: with the classic adapter (PUBLISH / PSUBSCRIBE), and with the sharded
// one (Redis 7 SPUBLISH / SSUBSCRIBE, createShardedAdapter, dynamic room channels), and with
// the sharded ones on a Redis Cluster of three masters (channels spread over the shards).
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertDeepEqualBinary, byteCompare, delay, io, sorted, uid } from './helpers.mjs';
import {
  ask,
  closeClients,
  connectClient,
  eventually,
  startNodeNode,
  startRedis,
  startRedisCluster,
  startRustNode,
  waitServerCount,
} from './redis-helpers.mjs';

const T = { timeout: 20_000 };

for (const kind of ['classic', 'sharded', 'cluster']) {
  describe(`${kind} adapter`, () => {
    let redis;
    let nodes = []; // [rust1, rust2, node]

    before(
      async () => {
        redis = kind === 'cluster' ? await startRedisCluster() : await startRedis();
        const where = kind === 'cluster' ? redis.urls : redis.url;
        nodes = [
          await startRustNode(where, kind),
          await startRustNode(where, kind),
          await startNodeNode(where, kind),
        ];
        nodes[0].name = 'rust1';
        nodes[1].name = 'rust2';
        nodes[2].name = 'node';
      },
      { timeout: 30_000 },
    );

    afterEach(() => closeClients());

    after(
      async () => {
        closeClients();
        for (const n of nodes) await n.kill();
        if (redis) await redis.kill();
        for (const n of nodes) n.health();
      },
      { timeout: 20_000 },
    );

    /** One client per node, labelled `<prefix>-<node name>`. */
    async function onePerNode(prefix = 'c') {
      const list = await Promise.all(nodes.map((n) => connectClient(n, `${prefix}-${n.name}`)));
      await waitServerCount(list, 3);
      return list;
    }

    /**
     * Emits `event` as a broadcast from `from` (via its node) with `opts`, then a barrier
     * broadcast to everyone from the same node; resolves once every client got the barrier.
     */
    async function broadcastThenBarrier(from, everyone, opts) {
      assert.equal(await ask(from, 'broadcast', opts), 'done');
      const barrier = uid('barrier');
      assert.equal(await ask(from, 'broadcast', { event: barrier, data: null }), 'done');
      await Promise.all(everyone.map((c) => c.rec.take(barrier, { timeout: 8000 })));
    }

    describe(`mixed cluster (${kind} adapter): Rust nodes and a Node.js node on one Redis`, () => {
      it('every node counts three nodes and sees the rooms of the others', T, async () => {
        const clients = await onePerNode();
        const rooms = clients.map(() => uid('room'));
        await Promise.all(clients.map((c, i) => ask(c, 'join', rooms[i])));
        for (const c of clients) {
          assert.equal(await ask(c, 'server-count'), 3, `server count on ${c.node.name}`);
          const all = await ask(c, 'all-rooms');
          if (kind !== 'classic') {
            // Not in the sharded protocol: an error on both kinds of node, not a hang.
            assert.equal(typeof all.err, 'string', `all-rooms on ${c.node.name}: ${JSON.stringify(all)}`);
            continue;
          }
          assert.ok(Array.isArray(all), `all-rooms on ${c.node.name}: ${JSON.stringify(all)}`);
          for (const r of rooms) assert.ok(all.includes(r), `${c.node.name} sees room ${r}`);
          for (const other of clients) assert.ok(all.includes(other.id), `${c.node.name} sees ${other.id}`);
        }
      });

      it('a broadcast to everyone reaches every client exactly once, from each node', T, async () => {
        const clients = await onePerNode();
        const extra = await connectClient(nodes[1], 'extra');
        const everyone = [...clients, extra];
        for (const from of clients) {
          const event = uid(`all-from-${from.node.name}`);
          await broadcastThenBarrier(from, everyone, { event, data: { n: 1, s: 'é' } });
          for (const c of everyone) {
            assert.equal(c.rec.count(event), 1, `${c.label} got ${event} once`);
            assert.deepStrictEqual(c.rec.all(event)[0], [{ n: 1, s: 'é' }]);
          }
        }
      });

      it('rooms, except, from-socket and local broadcasts target the same sockets everywhere', T, async () => {
        const [r1, r2, n] = await onePerNode();
        const everyone = [r1, r2, n];
        const room = uid('room');
        const other = uid('other');
        await ask(r1, 'join', room);
        await ask(n, 'join', room);
        await ask(r2, 'join', other);
        const cases = [
          // [from, opts, expected receivers]
          [r2, { to: [room] }, [r1, n]],
          [n, { to: [room] }, [r1, n]],
          [r1, { to: [room, other] }, [r1, r2, n]],
          [n, { to: [room, other] }, [r1, r2, n]],
          [r1, { except: [room] }, [r2]],
          [n, { except: [other] }, [r1, n]],
          [r2, { to: [room], except: [n.id] }, [r1]],
          [n, { to: [r1.id] }, [r1]],
          [r1, { to: [n.id] }, [n]],
          [n, { from_socket: true }, [r1, r2]],
          [r1, { from_socket: true, to: [room] }, [n]],
          [r2, { local: true }, [r2]],
          [n, { local: true }, [n]],
        ];
        for (const [from, opts, expected] of cases) {
          const event = uid('ev');
          await broadcastThenBarrier(from, everyone, { ...opts, event, data: 1 });
          for (const c of everyone) {
            const want = expected.includes(c) ? 1 : 0;
            assert.equal(
              c.rec.count(event),
              want,
              `${c.label} for ${JSON.stringify(opts)} from ${from.label}: got ${c.rec.count(event)}, want ${want}`,
            );
          }
        }
      });

      it('binary payloads cross between implementations both ways', T, async () => {
        const clients = await onePerNode();
        const data = { file: Buffer.from([0, 1, 2, 255]), list: [Buffer.alloc(0), Buffer.alloc(5000, 7)], text: 'x' };
        for (const from of clients) {
          const event = uid('bin');
          await broadcastThenBarrier(from, clients, { event, data });
          for (const c of clients) {
            assert.equal(c.rec.count(event), 1, `${c.label} got ${event}`);
            assertDeepEqualBinary(c.rec.all(event)[0][0], data, `binary from ${from.label} at ${c.label}`);
          }
        }
      });

      it('socketsJoin and socketsLeave apply on every node, from each side', T, async () => {
        const clients = await onePerNode();
        const room = uid('room');
        await Promise.all(clients.map((c) => ask(c, 'join', room)));
        for (const from of clients) {
          const target = uid(`joined-by-${from.node.name}`);
          assert.equal(await ask(from, 'sockets-join', { room, target }), 'ok');
          for (const c of clients) {
            await eventually(`${c.label} in ${target}`, async () => (await ask(c, 'rooms')).includes(target));
          }
          // one socket (on another node) leaves again
          const victim = clients[(clients.indexOf(from) + 1) % clients.length];
          assert.equal(await ask(from, 'sockets-leave', { room: victim.id, target }), 'ok');
          await eventually(`${victim.label} out of ${target}`, async () => !(await ask(victim, 'rooms')).includes(target));
          for (const c of clients) {
            if (c !== victim) assert.ok((await ask(c, 'rooms')).includes(target), `${c.label} still in ${target}`);
          }
        }
      });

      it('fetchSockets lists the sockets of every node, from each side', T, async () => {
        const clients = await onePerNode();
        const extra = await connectClient(nodes[2], 'extra');
        const all = [...clients, extra];
        const room = uid('room');
        await Promise.all(all.map((c) => ask(c, 'join', room)));
        const expected = all
          .map((c) => ({ id: c.id, rooms: sorted([c.id, room]) }))
          .sort((a, b) => byteCompare(a.id, b.id));
        for (const c of clients) {
          assert.deepStrictEqual(await ask(c, 'fetch-sockets', room), expected, `fetch-sockets on ${c.node.name}`);
        }
        // one socket by id, on another node
        assert.deepStrictEqual(await ask(clients[0], 'fetch-sockets', extra.id), [
          { id: extra.id, rooms: sorted([extra.id, room]) },
        ]);
        assert.deepStrictEqual(await ask(extra, 'fetch-sockets', clients[1].id), [
          { id: clients[1].id, rooms: sorted([clients[1].id, room]) },
        ]);
      });

      it('disconnectSockets reaches sockets on the other nodes, from each side', T, async () => {
        const clients = await onePerNode();
        for (const from of clients) {
          const victims = await Promise.all(
            nodes.filter((n) => n !== from.node).map((n) => connectClient(n, `victim-${n.name}`)),
          );
          const room = uid('doomed');
          await Promise.all(victims.map((v) => ask(v, 'join', room)));
          const reasons = victims.map(
            (v) => new Promise((resolve) => v.socket.once('disconnect', (reason) => resolve(reason))),
          );
          assert.equal(await ask(from, 'disconnect-sockets', { room }), 'ok');
          const got = await Promise.race([
            Promise.all(reasons),
            delay(8000).then(() => {
              throw new Error(`disconnect from ${from.node.name} did not arrive`);
            }),
          ]);
          assert.deepStrictEqual(got, victims.map(() => 'io server disconnect'));
          for (const c of clients) assert.ok(c.socket.connected, `${c.label} untouched`);
        }
      });

      it('broadcasts with acks gather the answers of clients on every node', T, async () => {
        const clients = await onePerNode();
        const extras = await Promise.all([connectClient(nodes[0], 'x-rust1'), connectClient(nodes[2], 'x-node')]);
        const room = uid('room');
        const members = [...clients, ...extras];
        await Promise.all(members.map((c) => ask(c, 'join', room)));
        for (const from of clients) {
          const res = await ask(from, 'broadcast-with-ack', { to: [room], timeout_ms: 4000 });
          assert.deepStrictEqual(res, { responses: sorted(members.map((c) => c.label)) }, `acks from ${from.node.name}`);
          const others = await ask(from, 'broadcast-with-ack', { to: [room], from_socket: true, timeout_ms: 4000 });
          assert.deepStrictEqual(
            others,
            { responses: sorted(members.filter((c) => c !== from).map((c) => c.label)) },
            `acks except the sender, from ${from.node.name}`,
          );
        }
      });

      it('server-side events reach every other node, with and without answers, from each side', T, async () => {
        const clients = await onePerNode();
        const args = [1, 'two', { three: [3] }];
        for (const from of clients) {
          assert.equal(await ask(from, 'server-side-emit', { args }), 'done');
          const others = clients.filter((c) => c !== from);
          for (const c of others) {
            const got = await eventually(`hello on ${c.node.name}`, async () => {
              const list = await ask(c, 'server-side-received');
              return list.length ? list : null;
            });
            assert.deepStrictEqual(got, [args], `${c.node.name} got it once`);
          }
          assert.deepStrictEqual(await ask(from, 'server-side-received'), [], 'not the sender');

          const res = await ask(from, 'server-side-emit', { args: ['ping'], with_ack: true, timeout_ms: 4000 });
          const expected = others.map((c) => ({ impl: c.node.kind, got: ['ping'] }));
          assert.deepStrictEqual(
            res,
            { responses: expected.sort((a, b) => byteCompare(JSON.stringify(a), JSON.stringify(b))) },
            `answers to ${from.node.name}`,
          );
          for (const c of clients) await ask(c, 'server-side-received');
        }
      });

      it('the admin UI connected to any node sees every node and the sockets of all', T, async () => {
        const clients = await onePerNode('seen');
        for (const node of nodes) {
          const adminSocket = io(`${node.url}/admin`, { forceNew: true, reconnection: false, transports: ['websocket'] });
          try {
            const stats = new Map();
            adminSocket.on('server_stats', (s) => stats.set(s.serverId, s));
            const allSockets = new Promise((r) => adminSocket.once('all_sockets', r));
            const listed = (await allSockets).map((s) => s.id);
            for (const c of clients) assert.ok(listed.includes(c.id), `${c.label} listed by ${node.name}`);
            await eventually(`stats of 3 nodes through ${node.name}`, async () => stats.size >= 3, 10_000);
            const ids = [...stats.keys()];
            assert.equal(ids.filter((id) => id.startsWith('rust-')).length, 2, JSON.stringify(ids));
            assert.equal(ids.filter((id) => id.startsWith('node-')).length, 1, JSON.stringify(ids));
          } finally {
            adminSocket.disconnect();
          }
        }
      });

      it('binary acknowledgements are relayed between nodes', T, async () => {
        const clients = await onePerNode();
        const bin = await connectClient(nodes[1], 'bin', { answer: Buffer.from([4, 2]) });
        const room = uid('room');
        await Promise.all([clients[0], clients[2], bin].map((c) => ask(c, 'join', room)));
        // from the Node.js node (reads the Rust client's binary answer through Redis)
        const fromNode = await ask(clients[2], 'broadcast-with-ack', { to: [bin.id], timeout_ms: 4000 });
        assertDeepEqualBinary(fromNode, { responses: [Buffer.from([4, 2])] });
        // from a Rust node (the answer travels as msgpack binary, back to JSON + attachment)
        const fromRust = await ask(clients[0], 'broadcast-with-ack', { to: [bin.id], timeout_ms: 4000 });
        assert.equal(fromRust.responses.length, 1);
        assertDeepEqualBinary(fromRust.responses[0], Buffer.from([4, 2]));
      });
    });

    describe(`Redis restart (${kind} adapter)`, { skip: kind === 'cluster' && 'one Redis server restarting is the scenario' }, () => {
      it('local delivery keeps working while Redis is down; cross-node delivery comes back', { timeout: 40_000 }, async () => {
        const [r1, r2, n] = await onePerNode('restart');
        const local2 = await connectClient(nodes[0], 'restart-rust1-b');
        await redis.kill();

        // a Rust node still delivers to its own clients
        const during = uid('during');
        assert.equal(await ask(r1, 'broadcast', { event: during, data: 1 }), 'done');
        await r1.rec.take(during);
        await local2.rec.take(during);
        // cluster-wide requests fail cleanly (an answer, not a hang)
        const count = await ask(r1, 'server-count');
        assert.ok(count && typeof count.err === 'string', `server-count while down: ${JSON.stringify(count)}`);
        const fetched = await ask(r1, 'fetch-sockets', null);
        assert.ok(fetched && typeof fetched.err === 'string', `fetch-sockets while down: ${JSON.stringify(fetched)}`);
        await delay(500);

        await redis.restart();
        await waitServerCount([r1, r2, n], 3);
        // cross-node delivery is back, in every direction
        for (const from of [r1, r2, n]) {
          const event = uid(`after-${from.node.name}`);
          await eventually(`cross-node delivery from ${from.node.name}`, async () => {
            await ask(from, 'broadcast', { event, data: 1 });
            await delay(100);
            return [r1, r2, n].every((c) => c.rec.count(event) > 0);
          });
        }
        const list = await ask(n, 'fetch-sockets', null);
        for (const c of [r1, r2, n, local2]) assert.ok(list.some((s) => s.id === c.id), `${c.label} listed after restart`);
      });
    });
  });
}
