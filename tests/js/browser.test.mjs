// The chat example's React front end in headless Chromium (Debian's, /usr/bin/chromium or
// CHROMIUM_BIN), with no network beyond loopback: two users log in, join a room, chat both
// ways, see each other typing, see a validation error, and live through a server restart
// (status "reconnecting", then connected again with their rooms joined again).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import { CHAT_BIN, startBinServer, stopBinServer } from './helpers.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ENV = { JWT_SECRET: 'browser-test', RUST_LOG: 'warn', RUST_BACKTRACE: '0' };
const WAIT = 15_000;

let server;
let browser;
/** Requests to anything but this machine (aborted; there must be none). */
const foreign = [];
/** Uncaught errors of the pages. */
const pageErrors = [];

/** A page of its own browser context (its own storage), logged in as `name`. */
async function user(name) {
  const context = await browser.newContext();
  await context.route('**/*', (route) => {
    const { hostname } = new URL(route.request().url());
    if (hostname === '127.0.0.1' || hostname === 'localhost') return route.continue();
    foreign.push(route.request().url());
    return route.abort();
  });
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  await page.goto(server.url);
  await page.fill('input[name=username]', name);
  await page.click('button:has-text("Log in")');
  await status(page, 'connected');
  return page;
}

/** Waits for the connection status badge to read `value`. */
function status(page, value) {
  return page.waitForSelector(`[data-testid=status][data-status=${value}]`, { timeout: WAIT });
}

/** Waits for an element matching `selector` whose text contains `text`. */
function seeText(page, selector, text) {
  return page.waitForFunction(
    ([sel, t]) => [...document.querySelectorAll(sel)].some((e) => e.textContent.includes(t)),
    [selector, text],
    { timeout: WAIT },
  );
}

async function joinRoom(page, room) {
  await page.fill('input[name=room]', room);
  await page.click('button:has-text("Join")');
  await page.waitForSelector(`section[aria-label="room ${room}"]`, { timeout: WAIT });
}

async function send(page, text) {
  await page.fill('input[name=text]', text);
  await page.click('button:has-text("Send")');
}

describe('the chat front end in headless Chromium', () => {
  before(
    async () => {
      assert.ok(
        fs.existsSync(CHROMIUM),
        `no Chromium at ${CHROMIUM}: scripts/test.sh installs Debian's chromium package (or set CHROMIUM_BIN)`,
      );
      server = await startBinServer({ bin: CHAT_BIN, env: ENV });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    },
    { timeout: 60_000 },
  );

  after(
    async () => {
      if (browser) await browser.close();
      if (server) await stopBinServer(server);
    },
    { timeout: 30_000 },
  );

  it('two users chat, see typing, errors, and reconnect after a server restart', { timeout: 120_000 }, async () => {
    const ada = await user('ada');
    const bob = await user('bob');

    await joinRoom(ada, 'lobby');
    await joinRoom(bob, 'lobby');
    await seeText(ada, '.log li', 'bob joined');

    // Typing, then messages both ways.
    await ada.fill('input[name=text]', 'hel');
    await seeText(bob, '[data-testid=typing]', 'ada is typing');
    await send(ada, 'hello from ada');
    await seeText(bob, '.log li', 'ada: hello from ada');
    await seeText(ada, '.log li', 'ada: hello from ada');
    await send(bob, 'hi ada, bob here');
    await seeText(ada, '.log li', 'bob: hi ada, bob here');

    // A message the server's ValidationPipe refuses: the error is shown to the user.
    await send(ada, 'x'.repeat(2001));
    await seeText(ada, '.errors [role=alert]', 'Validation failed: text (length)');
    assert.equal(await bob.locator('.log li', { hasText: 'xxxxxxxxxx' }).count(), 0);

    // The server restarts on the same port: both pages say so, reconnect, join again.
    const port = server.port;
    await stopBinServer(server);
    server = null;
    await status(ada, 'reconnecting');
    await status(bob, 'reconnecting');
    server = await startBinServer({ bin: CHAT_BIN, env: { ...ENV, PORT: String(port) } });
    await status(ada, 'connected');
    await status(bob, 'connected');
    // Not recovered (the new process has no session): each page joins its rooms again, and
    // the room's history, from the new server, replaces what the page showed.
    for (const page of [ada, bob]) {
      await page.waitForFunction(
        () => ![...document.querySelectorAll('.log li')].some((e) => e.textContent.includes('hello from ada')),
        null,
        { timeout: WAIT },
      );
    }
    await send(bob, 'after the restart');
    await seeText(ada, '.log li', 'bob: after the restart');
    await send(ada, 'welcome back');
    await seeText(bob, '.log li', 'ada: welcome back');
    await ada.screenshot({ path: process.env.BROWSER_SCREENSHOT || '/dev/null' }).catch(() => {});

    assert.deepStrictEqual(foreign, [], 'no request left the machine');
    assert.deepStrictEqual(pageErrors, [], 'no uncaught error in the pages');
  });
});
