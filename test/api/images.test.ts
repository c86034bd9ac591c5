// GET /images/<name> over a real socket (paths sent byte for byte) against a traversal
// corpus: encoded, double-encoded, backslash, NUL, overlong UTF-8, symlinks to a file and
// to a folder outside, a hard link, a FIFO. A secret marker lives in every file outside
// IMAGES_DIR; no response may ever carry it. Plus the image list of a job's window.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { link, mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { AddressInfo } from 'node:net';
import { checkPlainName, imageContentType, parseImageName } from '../../api/src/images/names.ts';
import { ImageIndex, imagesInWindow } from '../../api/src/images/image-index.ts';
import { createLogger } from '../../common/logger.ts';
import { Writable } from 'node:stream';
import { buildTestApp, request, tempDir } from '../support/api-harness.ts';

const MARKER = 'SECRET-MARKER-7f3a9c';
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');

void test('names: plain image names pass, anything else is refused before the file system', () => {
  assert.deepEqual(parseImageName('shot%20one.png'), { ok: true, name: 'shot one.png' });
  assert.equal(parseImageName('caf%C3%A9.png').ok, true);
  for (const raw of ['..%2fx.png', '%2e%2e', '..', '.', '.hidden.png', 'a..b.png', '%252e%252e', 'x%00.png', 'a%5cb.png', 'a/b.png', 'a\\b.png',
    '%c0%ae%c0%ae', '%e0%80%ae', '%ff.png', '%', '%zz', 'x'.repeat(256) + '.png', '', '%0a.png', '%7f.png']) {
    assert.equal(parseImageName(raw).ok, false, raw);
  }
  assert.equal(checkPlainName('a\u0000b').ok, false);
  assert.equal(imageContentType('A.PNG'), 'image/png');
  assert.equal(imageContentType('a.JpEg'), 'image/jpeg');
  assert.equal(imageContentType('a.webp'), 'image/webp');
  assert.equal(imageContentType('a.gif'), 'image/gif');
  assert.equal(imageContentType('a.svg'), null);
  assert.equal(imageContentType('png'), null);
});

void test('window: images whose mtime is inside the job, oldest first', () => {
  const entries = [
    { name: 'late.png', mtimeMs: 3000, size: 1 },
    { name: 'before.png', mtimeMs: 500, size: 1 },
    { name: 'early.png', mtimeMs: 1200, size: 1 },
    { name: 'after.png', mtimeMs: 9000, size: 1 },
  ];
  assert.deepEqual(imagesInWindow(entries, 1000, 5000), ['/images/early.png', '/images/late.png']);
  assert.deepEqual(imagesInWindow(entries, 1200, 3000), ['/images/early.png', '/images/late.png'], 'bounds are inclusive');
});

void test('GET /images serves only regular image files inside IMAGES_DIR and never leaks a byte from outside', async (t) => {
  const base = await tempDir(t);
  const imagesDir = path.join(base, 'images');
  const outside = path.join(base, 'outside');
  await mkdir(imagesDir);
  await mkdir(outside);
  const secret = Buffer.concat([PNG, Buffer.from(MARKER)]);
  await writeFile(path.join(outside, 'secret.png'), secret);
  await writeFile(path.join(base, 'secret.png'), secret);
  await writeFile(path.join(imagesDir, 'ok.png'), PNG);
  await writeFile(path.join(imagesDir, 'UPPER.PNG'), PNG);
  await writeFile(path.join(imagesDir, 'photo.jpeg'), PNG);
  await writeFile(path.join(imagesDir, 'notes.txt'), 'not an image');
  await symlink(path.join(outside, 'secret.png'), path.join(imagesDir, 'abs-link.png'));
  await symlink('../outside/secret.png', path.join(imagesDir, 'link-file.png'));
  await symlink('../outside', path.join(imagesDir, 'link-dir'));
  await symlink('../outside', path.join(imagesDir, 'link-dir.png'));
  await symlink('ok.png', path.join(imagesDir, 'alias.png'));
  await link(path.join(outside, 'secret.png'), path.join(imagesDir, 'hard.png'));
  await mkdir(path.join(imagesDir, 'dir.png'));
  execFileSync('mkfifo', [path.join(imagesDir, 'fifo.png')]);

  const { app } = await buildTestApp(t, { imagesDir });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;

  const ok = await request(port, { path: '/images/ok.png' });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.headers['content-type'], 'image/png');
  assert.equal(ok.headers['x-content-type-options'], 'nosniff');
  assert.equal(Number(ok.headers['content-length']), PNG.length);
  assert.ok(ok.body.equals(PNG));
  assert.equal((await request(port, { path: '/images/UPPER.PNG' })).headers['content-type'], 'image/png');
  assert.equal((await request(port, { path: '/images/photo.jpeg' })).headers['content-type'], 'image/jpeg');
  assert.equal((await request(port, { path: '/images/alias.png' })).statusCode, 200, 'a link to a file inside is fine');
  const head = await request(port, { method: 'HEAD', path: '/images/ok.png' });
  assert.equal(head.statusCode, 200);
  assert.equal(head.body.length, 0);

  const encodedOutside = encodeURIComponent(path.join(outside, 'secret.png'));
  const traversal400 = [
    '/images/../secret.png',
    '/images/../../../../etc/passwd',
    '/images/..%2fsecret.png',
    '/images/..%2Fsecret.png',
    '/images/%2e%2e%2fsecret.png',
    '/images/%2e%2e/secret.png',
    '/images/.%2e/secret.png',
    '/images/%2e%2e',
    '/images/..',
    '/images/.',
    '/images/%2e',
    '/images/%252e%252e%252fsecret.png',
    '/images/%252e%252e/secret.png',
    '/images/..%252fsecret.png',
    '/images/..%25%32%66secret.png',
    '/images/..%5csecret.png',
    '/images/..\\secret.png',
    '/images/%5c..%5csecret.png',
    '/images/secret.png%00.png',
    '/images/%00',
    '/images/ok.png%00',
    '/images/%c0%ae%c0%ae%c0%afsecret.png',
    '/images/%c0%ae%c0%ae/secret.png',
    '/images/%e0%80%ae%e0%80%ae%2fsecret.png',
    '/images/%c0%2e%c0%2e',
    '/images/..%c0%afsecret.png',
    '/images/..%c1%9csecret.png',
    '/images/%ff%fe.png',
    '/images/....//secret.png',
    '/images//etc/passwd',
    '/images/%2fetc%2fpasswd',
    `/images/${encodedOutside}`,
    '/images/link-dir/secret.png',
    '/images/link-dir%2fsecret.png',
    '/images/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/images/',
  ];
  const refused404 = [
    '/images/link-file.png',
    '/images/abs-link.png',
    '/images/link-dir.png',
    '/images/hard.png',
    '/images/fifo.png',
    '/images/dir.png',
    '/images/notes.txt',
    '/images/missing.png',
    '/images/secret.png',
    '/images/%ef%bc%8e%ef%bc%8e%e2%88%95secret.png',
  ];
  for (const p of traversal400) {
    const res = await request(port, { path: p });
    assert.ok(!res.body.includes(MARKER), `${p} leaked the secret`);
    assert.ok(!res.text.includes('root:'), `${p} leaked /etc/passwd`);
    assert.equal(res.statusCode, 400, `${p} -> ${res.statusCode} ${res.text}`);
    assert.equal(res.json().error, 'bad_request', p);
  }
  for (const p of refused404) {
    const res = await request(port, { path: p });
    assert.ok(!res.body.includes(MARKER), `${p} leaked the secret`);
    assert.equal(res.statusCode, 404, `${p} -> ${res.statusCode} ${res.text}`);
    assert.equal(res.json().error, 'not_found', p);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  }
});

void test('the watcher lists a finished PNG; a scan lists what changed in the window, oldest first', async (t) => {
  const imagesDir = path.join(await tempDir(t), 'images');
  const { images } = await buildTestApp(t, { imagesDir, watch: true });
  const startMs = Date.now();
  await writeFile(path.join(imagesDir, 'b.png'), PNG);
  await writeFile(path.join(imagesDir, 'a.png'), PNG);
  await writeFile(path.join(imagesDir, 'ignored.txt'), 'x');
  // Make the order certain whatever the clock granularity: b is older than a.
  await utimes(path.join(imagesDir, 'b.png'), new Date(startMs + 10), new Date(startMs + 10));
  await utimes(path.join(imagesDir, 'a.png'), new Date(startMs + 20), new Date(startMs + 20));
  const deadline = Date.now() + 5000;
  while (images.stats().count < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(images.stats().count, 2, 'the watcher saw both PNGs and not the .txt');
  assert.equal(images.stats().bytes, 2 * PNG.length);
  const endMs = Date.now() + 100;
  await images.scan();
  assert.deepEqual(images.listFromMemory(startMs, endMs), ['/images/b.png', '/images/a.png']);
  assert.deepEqual(images.listFromMemory(endMs + 1000, endMs + 2000), [], 'nothing from another window');
});

void test('the images folder swapped for a link to another folder: nothing listed, nothing served from there', async (t) => {
  const base = await tempDir(t);
  const imagesDir = path.join(base, 'images');
  const outside = path.join(base, 'outside');
  await mkdir(imagesDir);
  await mkdir(outside);
  await writeFile(path.join(outside, 'secret.png'), Buffer.concat([PNG, Buffer.from(MARKER)]));
  const { app, images } = await buildTestApp(t, { imagesDir });
  await rm(imagesDir, { recursive: true });
  await symlink(outside, imagesDir);
  await images.scan();
  assert.deepEqual(images.listFromMemory(0, Date.now() + 1000), []);
  const res = await app.inject({ method: 'GET', url: '/images/secret.png' });
  assert.equal(res.statusCode, 404);
  assert.ok(!res.body.includes(MARKER));
});

void test('a name swapped in a loop between a real image and a hard link to a file outside never serves the outside file', async (t) => {
  const base = await tempDir(t);
  const imagesDir = path.join(base, 'images');
  const outside = path.join(base, 'outside');
  await mkdir(imagesDir);
  await mkdir(outside);
  const secretPath = path.join(outside, 'secret.png');
  await writeFile(secretPath, Buffer.concat([PNG, Buffer.from(MARKER)]));
  await writeFile(path.join(imagesDir, 'swap.png'), PNG);
  const { app } = await buildTestApp(t, { imagesDir });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;

  // Another process swaps the name as fast as it can: a hard link to the secret, then a
  // fresh real image (one link), each renamed over `swap.png`.
  const swapper = spawn(process.execPath, ['-e', `
    const fs = require('fs');
    const [dir, secret, png] = process.argv.slice(1);
    const link = dir + '/.link', real = dir + '/.real', name = dir + '/swap.png';
    const bytes = Buffer.from(png, 'hex');
    for (;;) {
      try { fs.linkSync(secret, link); fs.renameSync(link, name); } catch {}
      try { fs.writeFileSync(real, bytes); fs.renameSync(real, name); } catch {}
    }`, imagesDir, secretPath, PNG.toString('hex')], { stdio: 'ignore' });
  const stopped = new Promise((resolve) => swapper.once('exit', resolve));
  const counts = { leaked: 0, served: 0, refused: 0 };
  try {
    for (let i = 0; i < 2000; i++) {
      const res = await request(port, { path: '/images/swap.png' });
      if (res.body.includes(MARKER)) counts.leaked += 1;
      else if (res.statusCode === 200) counts.served += 1;
      else counts.refused += 1;
    }
  } finally {
    swapper.kill('SIGKILL');
    await stopped;
  }
  console.log(`2000 GETs during the swap loop: ${JSON.stringify(counts)}`);
  assert.equal(counts.leaked, 0, 'the outside file was served');
  assert.ok(counts.served > 0, 'the real image was still served some of the time (the swap really ran)');
  assert.ok(counts.refused > 0, 'some requests met the hard link (the race really happened)');
});

void test('a full index forgets its oldest entries, never a new screenshot (scan and watcher alike)', async (t) => {
  const imagesDir = path.join(await tempDir(t), 'images');
  await mkdir(imagesDir);
  const base = Date.now() - 60_000;
  for (let i = 0; i < 5; i++) {
    await writeFile(path.join(imagesDir, `old-${i}.png`), PNG);
    await utimes(path.join(imagesDir, `old-${i}.png`), new Date(base + i * 1000), new Date(base + i * 1000));
  }
  const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  const index = new ImageIndex({ dir: imagesDir, logger, maxEntries: 3, stabilityMs: 50 });
  await index.start();
  t.after(() => index.close());
  assert.deepEqual(index.listFromMemory(0, Date.now()), ['/images/old-2.png', '/images/old-3.png', '/images/old-4.png']);
  assert.equal(index.stats().capped, true);
  const fresh = Date.now();
  await writeFile(path.join(imagesDir, 'fresh.png'), PNG);
  const deadline = Date.now() + 5000;
  while (!index.listFromMemory(0, Date.now() + 1000).includes('/images/fresh.png') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(index.listFromMemory(fresh - 10, Date.now() + 1000), ['/images/fresh.png'], 'the new file is listed');
  assert.equal(index.stats().count, 3, 'still bounded');
  await index.scan();
  assert.deepEqual(index.listFromMemory(0, Date.now() + 1000), ['/images/old-3.png', '/images/old-4.png', '/images/fresh.png']);
});
