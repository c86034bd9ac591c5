// API_TOKEN as a Bearer token or as a Basic password (any user name), and the challenge a
// 401 carries: Basic for a browser asking for a page (so it prompts), Bearer otherwise.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BASIC_CHALLENGE, basicPassword, credentialsMatch } from '../../api/src/auth.ts';
import { buildTestApp, tempDir } from '../support/api-harness.ts';

const TOKEN = 'test-token-0123456789abcdef';
const basic = (userPass: string): string => `Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`;
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8';

void test('Basic credentials: any user name, the token as the password; Bearer as before', () => {
  for (const ok of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, basic(`operator:${TOKEN}`), basic(`:${TOKEN}`), basic(`ünïcode user:${TOKEN}`), `basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`, `Basic  ${Buffer.from(`x:${TOKEN}`).toString('base64')} `]) {
    assert.equal(credentialsMatch(TOKEN, ok), true, ok);
  }
  // A password may hold colons: only the first one ends the user name.
  assert.equal(credentialsMatch('a:b:c-token-0123456', basic('user:a:b:c-token-0123456')), true);
  assert.equal(basicPassword(basic('user:a:b')), 'a:b');
  assert.equal(basicPassword(basic('user:')), '');
});

void test('wrong password, wrong scheme, malformed base64: no match', () => {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const wrong: Array<string | undefined> = [
    undefined,
    '',
    basic(`operator:${TOKEN}x`),
    basic(`operator:${TOKEN.slice(0, -1)}`),
    basic(`${TOKEN}:`), // the token as the user name
    basic(TOKEN), // no colon
    basic('operator:'),
    `Digest ${b64(`x:${TOKEN}`)}`,
    `Token ${TOKEN}`,
    `Basic${b64(`x:${TOKEN}`)}`, // no space after the scheme
    `Basic ${b64(`x:${TOKEN}`).replace(/=+$/, '')}`, // padding dropped: length not a multiple of 4
    `Basic ${b64(`x:${TOKEN}`).slice(0, 8)} ${b64(`x:${TOKEN}`).slice(8)}`, // whitespace inside
    `Basic !!!!${b64(`x:${TOKEN}`)}`,
    `Basic ${Buffer.concat([Buffer.from('x:'), Buffer.from([0xff, 0xfe]), Buffer.from(TOKEN)]).toString('base64')}`, // invalid UTF-8
    `Basic ${TOKEN}`, // the token itself, not base64 of user:password
    `Bearer ${b64(`x:${TOKEN}`)}`,
  ];
  for (const authorization of wrong) assert.equal(credentialsMatch(TOKEN, authorization), false, String(authorization));
  assert.equal(basicPassword(`Basic ${Buffer.from([0x78, 0x3a, 0xc3]).toString('base64')}`), null, 'a UTF-8 sequence cut short');
  // The standard alphabet only: the URL-safe one ('-', '_') is not Basic's.
  const odd = 'token>>>???~~~-0123456';
  const standard = b64(`x:${odd}`);
  assert.match(standard, /[+/]/);
  assert.equal(credentialsMatch(odd, `Basic ${standard}`), true);
  assert.equal(credentialsMatch(odd, `Basic ${Buffer.from(`x:${odd}`).toString('base64url')}`), false);
  assert.equal(basicPassword('Basic ===='), null);
});

void test('with API_TOKEN, Basic credentials open every route the bearer token opens; /health needs neither', async (t) => {
  const { app } = await buildTestApp(t, { imagesDir: await tempDir(t), apiToken: TOKEN });
  const authorization = basic(`anyone:${TOKEN}`);
  assert.equal((await app.inject({ url: '/status', headers: { authorization } })).statusCode, 200);
  assert.equal((await app.inject({ url: '/status', headers: { authorization, accept: 'text/html' } })).statusCode, 200);
  assert.equal((await app.inject({ url: '/openapi.json', headers: { authorization } })).statusCode, 200);
  assert.equal((await app.inject({ url: '/images/missing.png', headers: { authorization } })).statusCode, 404, 'past auth: the file is missing');
  assert.equal((await app.inject({ url: '/jobs/abc/events', headers: { authorization } })).statusCode, 503, 'past auth: no supervisor');
  assert.equal((await app.inject({ url: '/health' })).statusCode, 200);
});

void test('a 401 asks a browser that wants a page for Basic credentials; every other client keeps Bearer and the JSON body', async (t) => {
  const { app } = await buildTestApp(t, { imagesDir: await tempDir(t), apiToken: TOKEN });
  const cases: Array<{ accept?: string; authorization?: string; challenge: string }> = [
    { accept: BROWSER_ACCEPT, challenge: BASIC_CHALLENGE },
    { accept: 'text/html', authorization: basic('operator:wrong-password'), challenge: BASIC_CHALLENGE },
    { accept: 'text/html', authorization: `Bearer ${TOKEN}x`, challenge: BASIC_CHALLENGE },
    { challenge: 'Bearer' },
    { accept: '*/*', challenge: 'Bearer' },
    { accept: 'application/json', authorization: basic('operator:wrong-password'), challenge: 'Bearer' },
    { accept: 'text/event-stream', challenge: 'Bearer' },
    { accept: 'image/avif,image/webp,*/*;q=0.8', challenge: 'Bearer' },
  ];
  for (const url of ['/status', '/jobs/abc', '/nope']) {
    for (const c of cases) {
      const headers: Record<string, string> = {};
      if (c.accept !== undefined) headers.accept = c.accept;
      if (c.authorization !== undefined) headers.authorization = c.authorization;
      const res = await app.inject({ url, headers });
      const what = `${url} ${JSON.stringify(c)}`;
      assert.equal(res.statusCode, 401, what);
      assert.equal(res.headers['www-authenticate'], c.challenge, what);
      assert.equal(res.headers.vary, 'Accept', what);
      assert.match(String(res.headers['content-type']), /^application\/json/, what);
      assert.deepEqual(res.json(), { error: 'unauthorized', message: 'Missing or wrong API token' }, what);
    }
  }
});

void test("Basic credentials do not count for another site's requests (CSRF); its links to a page still open, and Bearer is not affected", async (t) => {
  const { app } = await buildTestApp(t, { imagesDir: await tempDir(t), apiToken: TOKEN });
  const authorization = basic(`operator:${TOKEN}`);
  const host = 'cockpit.example:3001';
  const cases: Array<{ method: 'GET' | 'POST'; url: string; headers: Record<string, string>; passes: boolean; why: string }> = [
    { method: 'GET', url: '/status', headers: {}, passes: true, why: 'curl -u: no fetch metadata' },
    { method: 'GET', url: '/status', headers: { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' }, passes: true, why: "the page's own fetch" },
    { method: 'GET', url: '/status', headers: { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }, passes: true, why: 'typed into the address bar' },
    { method: 'GET', url: '/status', headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }, passes: true, why: 'a link from elsewhere' },
    { method: 'GET', url: '/images/x.png', headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' }, passes: false, why: "another site's <img>" },
    { method: 'GET', url: '/status', headers: { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' }, passes: false, why: "a sibling subdomain's fetch" },
    { method: 'GET', url: '/status', headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'object' }, passes: false, why: 'an <object>' },
    { method: 'POST', url: '/jobs/abc/cancel', headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }, passes: false, why: "another site's form" },
    { method: 'POST', url: '/jobs/abc/cancel', headers: { origin: 'https://evil.example' }, passes: false, why: 'an old browser: Origin not ours' },
    { method: 'POST', url: '/jobs/abc/cancel', headers: { origin: 'null' }, passes: false, why: 'an opaque origin' },
    { method: 'POST', url: '/jobs/abc/cancel', headers: { origin: `http://${host}` }, passes: true, why: 'an old browser on our own page' },
  ];
  for (const c of cases) {
    const res = await app.inject({ method: c.method, url: c.url, headers: { host, authorization, ...c.headers } });
    if (c.passes) assert.notEqual(res.statusCode, 401, c.why);
    else {
      assert.equal(res.statusCode, 401, c.why);
      assert.equal(res.json().error, 'unauthorized');
      assert.match(String(res.json().message), /another site/, c.why);
    }
    // The same requests with the bearer token are never refused for where they come from.
    const withBearer = await app.inject({ method: c.method, url: c.url, headers: { host, authorization: `Bearer ${TOKEN}`, ...c.headers } });
    assert.notEqual(withBearer.statusCode, 401, `${c.why} (bearer)`);
  }
});
