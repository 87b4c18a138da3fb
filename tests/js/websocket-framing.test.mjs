// RFC 6455 framing at the byte level, against the conformance server's bare Engine.IO
// echo endpoint (/engine.io/): the handshake answer, fragmented and coalesced frames,
// control frames, and the close code each protocol violation gets. Frames are written by
// hand on a TCP socket, so nothing (masking, lengths, fragmentation) is left to a library.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import { T, WAIT_TIMEOUT, assertServerAlive, openBystanders, parseOpenPacket, useConformanceServer, withTimeout } from './helpers.mjs';

const srv = useConformanceServer();
const EIO = '/engine.io/?EIO=4&transport=websocket';
// /socket.io/ is served by the engine's own accept loop (handshake answered without the
// HTTP stack); /engine.io/ is a plain axum route (handshake through hyper).
const SIO = '/socket.io/?EIO=4&transport=websocket';

/** A masked client frame. */
function frame(opcode, payload, { fin = true, mask = crypto.randomBytes(4), masked = true } = {}) {
  const data = Buffer.from(payload);
  const len = data.length;
  const head = len < 126 ? Buffer.from([0, len]) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (len >= 126 && len < 65536) {
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else if (len >= 65536) {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (!masked) return Buffer.concat([head, data]);
  head[1] |= 0x80;
  const body = Buffer.from(data.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([head, mask, body]);
}

const text = (s, opts) => frame(0x1, s, opts);

/** A raw WebSocket client over TCP that parses the server's (unmasked) frames. */
class TcpWs {
  static async open(headers = {}, target = EIO) {
    const c = new TcpWs();
    await c.connect(headers, target);
    return c;
  }

  connect(extra, target) {
    this.key = crypto.randomBytes(16).toString('base64');
    this.frames = [];
    this.waiters = [];
    this.buf = Buffer.alloc(0);
    this.ended = false;
    return withTimeout(
      new Promise((resolve, reject) => {
        this.sock = net.connect(srv.port, '127.0.0.1', () => {
          const headers = {
            Host: `127.0.0.1:${srv.port}`,
            Upgrade: 'websocket',
            Connection: 'Upgrade',
            'Sec-WebSocket-Key': this.key,
            'Sec-WebSocket-Version': '13',
            ...extra,
          };
          const lines = Object.entries(headers)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => `${k}: ${v}`);
          this.sock.write(`GET ${target} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
        });
        let head = Buffer.alloc(0);
        const onData = (chunk) => {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          this.sock.off('data', onData);
          const [status, ...fields] = head.subarray(0, end).toString('latin1').split('\r\n');
          this.status = Number(status.split(' ')[1]);
          this.headers = Object.fromEntries(
            fields.map((f) => [f.slice(0, f.indexOf(':')).toLowerCase(), f.slice(f.indexOf(':') + 1).trim()]),
          );
          this.sock.on('data', (d) => this.onBytes(d));
          this.onBytes(head.subarray(end + 4));
          resolve();
        };
        this.sock.on('data', onData);
        this.sock.on('error', () => {});
        this.sock.on('close', () => {
          this.ended = true;
          this.wake();
        });
        this.sock.once('error', reject);
      }),
      WAIT_TIMEOUT,
      'websocket handshake',
    );
  }

  onBytes(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) break;
      assert.equal(this.buf[1] & 0x80, 0, 'server frames are never masked');
      let len = this.buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) break;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) break;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) break;
      this.frames.push({ fin: Boolean(this.buf[0] & 0x80), opcode: this.buf[0] & 0x0f, data: this.buf.subarray(off, off + len) });
      this.buf = this.buf.subarray(off + len);
    }
    this.wake();
  }

  wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The next frame, skipping Engine.IO pings. */
  async next(label = 'a frame') {
    return withTimeout(
      (async () => {
        for (;;) {
          const f = this.frames.shift();
          if (f) {
            if (f.opcode === 1 && f.data.toString() === '2') continue;
            return f;
          }
          if (this.ended) throw new Error(`connection ended while waiting for ${label}`);
          await new Promise((r) => this.waiters.push(r));
        }
      })(),
      WAIT_TIMEOUT,
      label,
    );
  }

  async nextText(label) {
    const f = await this.next(label);
    assert.equal(f.opcode, 1, `${label}: a text frame`);
    return f.data.toString('utf8');
  }

  /** Waits for the server's close frame and the end of the TCP connection: the close code. */
  async expectClose(label) {
    const f = await this.next(label);
    assert.equal(f.opcode, 8, `${label}: a close frame, got opcode ${f.opcode} ${f.data}`);
    await withTimeout(
      (async () => {
        while (!this.ended) await new Promise((r) => this.waiters.push(r));
      })(),
      WAIT_TIMEOUT,
      `${label}: the TCP connection ends`,
    );
    return f.data.length >= 2 ? f.data.readUInt16BE(0) : null;
  }

  send(bytes) {
    this.sock.write(bytes);
  }

  destroy() {
    this.sock.destroy();
  }
}

async function openSession(headers, target) {
  const ws = await TcpWs.open(headers, target);
  assert.equal(ws.status, 101);
  const open = parseOpenPacket(await ws.nextText('the OPEN packet'));
  return { ws, open };
}

describe('WebSocket framing (RFC 6455) on /engine.io/', () => {
  for (const [where, target] of [['/engine.io/ (through hyper)', EIO], ['/socket.io/ (own accept loop)', SIO]]) {
    it(`answers the handshake on ${where} with 101, the Sec-WebSocket-Accept of the key and the OPEN packet`, T, async () => {
      const { ws, open } = await openSession({}, target);
      const expected = crypto
        .createHash('sha1')
        .update(ws.key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
        .digest('base64');
      assert.equal(ws.headers['sec-websocket-accept'], expected);
      assert.equal(ws.headers.upgrade.toLowerCase(), 'websocket');
      assert.ok(open.sid);
      ws.destroy();
    });

    for (const [label, headers] of [
      ['version 8', { 'Sec-WebSocket-Version': '8' }],
      ['no key', { 'Sec-WebSocket-Key': undefined }],
      ['no Upgrade header', { Upgrade: undefined }],
    ]) {
      it(`refuses an upgrade request on ${where} with ${label} (HTTP 400)`, T, async () => {
        const ws = await TcpWs.open(headers, target);
        assert.equal(ws.status, 400);
        ws.destroy();
      });
    }

    it(`reads a frame sent on ${where} right behind the handshake request`, T, async () => {
      const ws = new TcpWs();
      ws.key = crypto.randomBytes(16).toString('base64');
      const { ws: opened } = await openSession({}, target);
      opened.destroy();
      // The handshake and a first frame in one TCP write: the frame must not be lost.
      const raw = await new Promise((resolve, reject) => {
        const sock = net.connect(srv.port, '127.0.0.1', () => {
          sock.write(
            Buffer.concat([
              Buffer.from(
                `GET ${target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
                  `Sec-WebSocket-Key: ${ws.key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
              ),
              text(target === EIO ? '4early' : '40'),
            ]),
          );
        });
        let got = Buffer.alloc(0);
        sock.on('data', (d) => {
          got = Buffer.concat([got, d]);
          const s = got.toString('latin1');
          if (target === EIO ? s.includes('4early') : s.includes('"sid"') && s.lastIndexOf('40{') > 0) {
            sock.destroy();
            resolve(s);
          }
        });
        sock.on('error', reject);
        setTimeout(() => reject(new Error(`no answer to the early frame: ${got.toString('latin1')}`)), WAIT_TIMEOUT);
      });
      assert.match(raw, /^HTTP\/1.1 101/);
    });
  }

  it('joins fragments, answers pings between them, and reads frames split or coalesced', T, async () => {
    const { ws } = await openSession();
    // One message in three fragments with a ping in the middle.
    ws.send(Buffer.concat([text('4hel', { fin: false }), frame(0x9, 'ping!'), frame(0x0, 'lo ', { fin: false }), frame(0x0, 'world')]));
    const pong = await ws.next('the pong');
    assert.equal(pong.opcode, 0xa);
    assert.equal(pong.data.toString(), 'ping!');
    assert.equal(await ws.nextText('the joined message'), '4hello world');
    // Fifty messages in one TCP write come back in order.
    ws.send(Buffer.concat(Array.from({ length: 50 }, (_, i) => text(`4m${i}`))));
    for (let i = 0; i < 50; i++) assert.equal(await ws.nextText(`echo ${i}`), `4m${i}`);
    // A 70 000-byte message (64-bit length) written one small piece at a time.
    const big = text(`4${'y'.repeat(70_000)}`);
    for (let i = 0; i < big.length; i += 4096) {
      ws.send(big.subarray(i, i + 4096));
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(await ws.nextText('the big echo'), `4${'y'.repeat(70_000)}`);
    // Binary messages come back as binary frames.
    ws.send(frame(0x2, Buffer.from([1, 2, 3])));
    const bin = await ws.next('the binary echo');
    assert.equal(bin.opcode, 2);
    assert.deepEqual([...bin.data], [1, 2, 3]);
    ws.destroy();
  });

  it('answers a close frame with the same code and ends the connection', T, async () => {
    const { ws } = await openSession();
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    ws.send(frame(0x8, code));
    assert.equal(await ws.expectClose('the close answer'), 1000);
  });

  const violations = [
    ['an unmasked frame', () => frame(0x1, '4x', { masked: false }), 1002],
    ['a reserved opcode', () => frame(0x3, ''), 1002],
    ['RSV1 without an extension', () => {
      const f = text('4x');
      f[0] |= 0x40;
      return f;
    }, 1002],
    ['a continuation with nothing to continue', () => frame(0x0, '4x'), 1002],
    ['a text message that is not UTF-8', () => frame(0x1, Buffer.from([0x34, 0xff, 0xfe])), 1007],
    ['a ping longer than 125 bytes', () => frame(0x9, 'p'.repeat(126)), 1002],
    ['a header announcing 2 MB (maxPayload 1 MB)', () => frame(0x1, 'x'.repeat(2_000_000)).subarray(0, 14), 1009],
  ];
  for (const [label, bytes, expected] of violations) {
    it(`closes with ${expected} on ${label}, and only that connection`, T, async () => {
      const bystanders = await openBystanders(srv);
      const { ws } = await openSession();
      ws.send(bytes());
      assert.equal(await ws.expectClose(label), expected);
      await bystanders.check();
      await assertServerAlive(srv);
    });
  }
});
