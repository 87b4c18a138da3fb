// The chat's declared events as its front end sees them: the AsyncAPI document the
// server generates validates with the official AsyncAPI parser and is the one the server
// serves; the generated TypeScript type-checks a client that uses every event, and a
// client that emits a wrong payload fails `tsc` on exactly the wrong lines.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Parser } from '@asyncapi/parser';
import { CHAT_BIN, HERE, rawRequest, useBinServer } from './helpers.mjs';

const CHAT = path.resolve(HERE, '../../examples/chat');
const WEB = path.join(CHAT, 'web');
const TSC = path.join(WEB, 'node_modules/.bin/tsc');

const srv = useBinServer({ bin: CHAT_BIN, env: { JWT_SECRET: 'typed-events', RUST_LOG: 'warn' } });

/** Runs tsc with `args` in the front end's directory: { code, out }. */
function tsc(args) {
  return new Promise((resolve) => {
    execFile(TSC, args, { cwd: WEB, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

describe('typed events: AsyncAPI and TypeScript from the Rust declaration', () => {
  it('the AsyncAPI 3.0 document validates with @asyncapi/parser and describes /chat', { timeout: 30_000 }, async () => {
    const text = fs.readFileSync(path.join(CHAT, 'asyncapi.json'), 'utf8');
    const served = await rawRequest(`${srv.url}/asyncapi.json`);
    assert.equal(served.status, 200);
    assert.deepStrictEqual(JSON.parse(served.text), JSON.parse(text), 'the server serves the committed document');

    const { document, diagnostics } = await new Parser().parse(text);
    const errors = diagnostics.filter((d) => d.severity === 0);
    assert.deepStrictEqual(errors.map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`), []);
    assert.ok(document, 'parsed');
    assert.equal(document.version(), '3.0.0');
    assert.deepStrictEqual(document.channels().all().map((c) => c.address()), ['/chat']);

    const ops = Object.fromEntries(
      document.operations().all().map((o) => [o.id(), { action: o.action(), messages: o.messages().all().map((m) => m.name()) }]),
    );
    for (const event of ['join', 'leave', 'send-message', 'typing']) {
      assert.deepStrictEqual(ops[`chat.client.${event}`], { action: 'receive', messages: [event] }, event);
    }
    for (const event of ['new-message', 'user-joined', 'user-left', 'typing', 'exception']) {
      assert.deepStrictEqual(ops[`chat.server.${event}`], { action: 'send', messages: [event] }, event);
    }
    const join = document.operations().all().find((o) => o.id() === 'chat.client.join');
    assert.ok(join.reply(), 'join is acknowledged');
    assert.equal(join.reply().messages().all()[0].name(), 'join (acknowledgement)');

    // The payload schemas carry the DTOs' validation rules.
    const send = document.messages().all().find((m) => m.name() === 'send-message');
    const text_ = send.payload().properties().text;
    assert.equal(text_.type(), 'string');
    assert.equal(text_.minLength(), 1);
    assert.equal(text_.maxLength(), 2000);
    assert.deepStrictEqual(send.payload().required(), ['room', 'text']);
  });

  it('tsc accepts a client using every event with the generated types', { timeout: 120_000 }, async () => {
    const { code, out } = await tsc(['--noEmit', '-p', '.']);
    assert.equal(code, 0, out);
  });

  it('tsc rejects a client emitting wrong payloads, on each wrong line', { timeout: 120_000 }, async () => {
    const file = 'typecheck/wrong-payload.ts';
    const expected = fs
      .readFileSync(path.join(WEB, file), 'utf8')
      .split('\n')
      .flatMap((line, i) => (line.includes('// expect-error') ? [i + 1] : []));
    assert.equal(expected.length, 5);
    const { code, out } = await tsc([
      '--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022',
      '--module', 'esnext', '--moduleResolution', 'bundler', file,
    ]);
    assert.notEqual(code, 0, 'tsc must fail');
    const failed = [...new Set([...out.matchAll(/wrong-payload\.ts\((\d+),\d+\): error TS/g)].map((m) => Number(m[1])))];
    assert.deepStrictEqual(failed.sort((a, b) => a - b), expected, out);
  });
});
