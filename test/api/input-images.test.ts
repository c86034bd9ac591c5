// Pictures in: checkInputImages on real tiny files of each type and on each way an image
// can be wrong, then POST /command through the API and a REAL supervisor: every bad image
// is a 400 naming the image and why, and no job is recorded or run.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { checkInputImages } from '../../api/src/images/input-check.ts';
import {
  bodyBytesFor,
  DEFAULT_MAX_INPUT_IMAGES,
  MAX_IMAGE_BASE64_CHARS,
  MAX_INPUT_IMAGES_CAP,
  type InputImage,
} from '../../common/input-images.ts';
import { configWarnings, loadConfig } from '../../api/src/config.ts';
import { startAllowanceMs } from '../../api/src/supervisor-client.ts';
import { buildTestApp, request, startApiProcess, tempDir } from '../support/api-harness.ts';
import { runCount, startStack, type Stack } from '../support/api-stack.ts';

// Real files, small enough to read. PNG, JPEG: a 3×2 canvas rendered by Chromium
// (toDataURL; the JPEG's ICC profile segment removed). GIF: the classic 1×1 transparent
// pixel. WebP: 1×1 lossless (VP8L) and lossy (VP8), as Modernizr's feature tests carry them.
const PNG_3X2 = 'iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAYAAACddGYaAAAAEklEQVR4AWLSqzX6D8NMDEgAAAAA//9RN12BAAAABklEQVQDAGQHAtcJ5E9eAAAAAElFTkSuQmCC';
const JPEG_3X2 =
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCj/wAARCAACAAMDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAb/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFQEBAQAAAAAAAAAAAAAAAAAABQb/xAAUEQEAAAAAAAAAAAAAAAAAAAAA/9oADAMBAAIRAxEAPwCQACJl/9k=';
const GIF_1X1 = 'R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==';
const WEBP_LOSSLESS_1X1 = 'UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==';
const WEBP_LOSSY_1X1 = 'UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA';

const b64 = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64');

/** The 3×2 PNG with its IHDR claiming another size (image-size reads the header only). */
function pngClaiming(width: number, height: number): string {
  const bytes = Buffer.from(PNG_3X2, 'base64');
  bytes.writeUInt32BE(width, 16);
  bytes.writeUInt32BE(height, 20);
  return b64(bytes);
}

/** A real PNG of about `bytes` bytes: the 3×2 one with a private ancillary chunk of filler before IEND. */
function pngOfSize(bytes: number): string {
  const png = Buffer.from(PNG_3X2, 'base64');
  const iend = png.length - 12;
  const filler = Buffer.alloc(bytes - png.length - 12, 0x61);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(filler.length, 0);
  head.write('prVt', 4, 'latin1');
  return b64(Buffer.concat([png.subarray(0, iend), head, filler, Buffer.alloc(4), png.subarray(iend)]));
}

const png: InputImage = { mediaType: 'image/png', data: PNG_3X2 };

/** Each bad image, what checkInputImages calls it, and words its message must hold. */
const BAD_IMAGES: Array<{ name: string; image: InputImage; kind: string; says: RegExp }> = [
  { name: 'a JPEG declared a PNG', image: { mediaType: 'image/png', data: JPEG_3X2 }, kind: 'type', says: /the data is not a PNG \(it starts like a JPEG\)/ },
  { name: 'a PNG declared a WebP', image: { mediaType: 'image/webp', data: PNG_3X2 }, kind: 'type', says: /not a WebP \(it starts like a PNG\)/ },
  { name: 'a GIF declared a JPEG', image: { mediaType: 'image/jpeg', data: GIF_1X1 }, kind: 'type', says: /not a JPEG \(it starts like a GIF\)/ },
  { name: 'a BMP', image: { mediaType: 'image/png', data: b64(Buffer.concat([Buffer.from('BM'), Buffer.alloc(16), Buffer.from([2, 0, 0, 0, 2, 0, 0, 0])])) }, kind: 'type', says: /not a PNG \(it looks like BMP, which is not taken/ },
  { name: 'unknown bytes', image: { mediaType: 'image/gif', data: b64('hello, this is no picture') }, kind: 'type', says: /not a GIF \(it is no image type known here; PNG, JPEG, GIF and WebP are taken\)/ },
  { name: 'a truncated PNG', image: { mediaType: 'image/png', data: b64(Buffer.from(PNG_3X2, 'base64').subarray(0, 18)) }, kind: 'unreadable', says: /starts like a PNG but its size cannot be read/ },
  // 7 bytes: image-size reads the size at bytes 6-9. A pooled Buffer would have let it read
  // the neighbouring allocation's bytes as the height.
  { name: 'a GIF cut after its signature', image: { mediaType: 'image/gif', data: b64('GIF89a\x01') }, kind: 'unreadable', says: /starts like a GIF but its size cannot be read/ },
  { name: 'base64 with line breaks', image: { mediaType: 'image/png', data: `${PNG_3X2.slice(0, 76)}\n${PNG_3X2.slice(76)}` }, kind: 'base64', says: /not base64: it holds whitespace \(at character 76\)/ },
  { name: 'URL-safe base64', image: { mediaType: 'image/png', data: PNG_3X2.replace(/\//g, '_') }, kind: 'base64', says: /URL-safe alphabet/ },
  { name: 'a character outside base64', image: { mediaType: 'image/png', data: `*${PNG_3X2.slice(1)}` }, kind: 'base64', says: /not base64: character 0 is outside the base64 alphabet/ },
  { name: 'padding in the middle', image: { mediaType: 'image/png', data: `AA==${PNG_3X2}` }, kind: 'base64', says: /'=' may only pad the end/ },
  { name: 'missing padding', image: { mediaType: 'image/gif', data: GIF_1X1.replace(/=+$/, '') }, kind: 'base64', says: /its length \(58\) is not a multiple of 4/ },
  { name: 'a data: URL', image: { mediaType: 'image/png', data: `data:image/png;base64,${PNG_3X2}` }, kind: 'data_url', says: /the data is a data: URL; send only the base64 after the comma/ },
  { name: 'over 8000 px wide', image: { mediaType: 'image/png', data: pngClaiming(8001, 10) }, kind: 'dimensions', says: /8001×10 px; each side may be at most 8000 px/ },
  { name: 'over 8000 px high', image: { mediaType: 'image/png', data: pngClaiming(10, 8001) }, kind: 'dimensions', says: /10×8001 px/ },
  { name: 'zero pixels wide', image: { mediaType: 'image/png', data: pngClaiming(0, 2) }, kind: 'dimensions', says: /0×2 px: it has no pixels/ },
];

void test('checkInputImages takes one real image of each type, 8000 px a side, and none at all', () => {
  const images: InputImage[] = [
    png,
    { mediaType: 'image/jpeg', data: JPEG_3X2 },
    { mediaType: 'image/gif', data: GIF_1X1 },
    { mediaType: 'image/webp', data: WEBP_LOSSLESS_1X1 },
    { mediaType: 'image/webp', data: WEBP_LOSSY_1X1 },
  ];
  assert.equal(checkInputImages(images, 5), null);
  for (const image of images) assert.equal(checkInputImages([image], 1), null, image.mediaType);
  assert.equal(checkInputImages([{ mediaType: 'image/png', data: pngClaiming(8000, 8000) }], 1), null);
  assert.equal(checkInputImages([], 0), null);
});

void test('checkInputImages names the image and the reason for each bad one', () => {
  for (const { name, image, kind, says } of BAD_IMAGES) {
    const problem = checkInputImages([png, image], 5);
    assert.ok(problem !== null, name);
    assert.equal(problem.index, 1, name);
    assert.equal(problem.kind, kind, `${name}: ${problem.message}`);
    assert.match(problem.message, /^images\[1\]: /, name);
    assert.match(problem.message, says, name);
    assert.equal(problem.message, `images[1]: ${problem.reason}`);
    assert.ok(!problem.message.includes(PNG_3X2.slice(0, 40)), `${name}: the message never repeats the data`);
  }
  assert.equal(checkInputImages([png, { mediaType: 'image/png', data: '' }], 5)?.reason, 'the data is empty');
});

void test('checkInputImages: the first problem wins, count before content', () => {
  const bad = { mediaType: 'image/png', data: JPEG_3X2 } as const;
  assert.equal(checkInputImages([bad, bad], 5)?.index, 0);
  const tooMany = checkInputImages([bad, png, png], 2);
  assert.deepEqual(tooMany, { index: null, kind: 'count', reason: '3 images sent; at most 2 are taken (MAX_INPUT_IMAGES)', message: 'images: 3 images sent; at most 2 are taken (MAX_INPUT_IMAGES)' });
  assert.equal(checkInputImages([png], 0)?.message, 'images: this service takes no images (MAX_INPUT_IMAGES is 0)');
});

void test('checkInputImages: base64 over 5 MiB is refused, a 5 MiB image is taken', () => {
  const over = checkInputImages([{ mediaType: 'image/png', data: 'A'.repeat(MAX_IMAGE_BASE64_CHARS + 4) }], 1);
  assert.equal(over?.kind, 'too_large');
  assert.match(over?.message ?? '', /^images\[0\]: the data is 5242884 base64 characters, over the limit of 5242880 base64 characters \(5 MiB, about 3\.75 MiB of image\)$/);
  // The largest PNG that fits: 3 bytes of image per 4 characters of base64.
  const largest = pngOfSize((MAX_IMAGE_BASE64_CHARS / 4) * 3);
  assert.equal(largest.length, MAX_IMAGE_BASE64_CHARS);
  assert.equal(checkInputImages([{ mediaType: 'image/png', data: largest }], 1), null);
});

void test('MAX_INPUT_IMAGES sizes BODY_LIMIT_BYTES; a smaller BODY_LIMIT_BYTES is warned about', () => {
  const defaults = loadConfig({}, 1000);
  assert.equal(defaults.maxInputImages, DEFAULT_MAX_INPUT_IMAGES);
  assert.equal(defaults.bodyLimitBytes, 1024 * 1024 + 5 * MAX_IMAGE_BASE64_CHARS + 64 * 1024);
  assert.deepEqual(configWarnings(defaults), []);
  assert.equal(loadConfig({ MAX_INPUT_IMAGES: '20' }, 1000).bodyLimitBytes, bodyBytesFor(MAX_INPUT_IMAGES_CAP));
  assert.equal(loadConfig({ MAX_INPUT_IMAGES: '0' }, 1000).bodyLimitBytes, 1024 * 1024 + 64 * 1024);
  assert.equal(loadConfig({ BODY_LIMIT_BYTES: String(128 * 1024 * 1024) }, 1000).bodyLimitBytes, 128 * 1024 * 1024);
  assert.throws(() => loadConfig({ MAX_INPUT_IMAGES: '21' }, 1000), /MAX_INPUT_IMAGES: expected a whole number from 0 to 20/);
  assert.throws(() => loadConfig({ BODY_LIMIT_BYTES: String(128 * 1024 * 1024 + 1) }, 1000), /BODY_LIMIT_BYTES/);
  const small = loadConfig({ BODY_LIMIT_BYTES: '1048576' }, 1000);
  const [warning] = configWarnings(small);
  assert.deepEqual(warning?.fields, { bodyLimitBytes: 1048576, maxInputImages: 5, neededBytes: bodyBytesFor(5) });
  assert.match(warning?.msg ?? '', /BODY_LIMIT_BYTES is below what MAX_INPUT_IMAGES images/);
  assert.deepEqual(configWarnings(loadConfig({ BODY_LIMIT_BYTES: '1048576', MAX_INPUT_IMAGES: '0' }, 1000)), [], 'no images taken: nothing to warn about');
});

void test('the API process warns at start when BODY_LIMIT_BYTES cannot hold MAX_INPUT_IMAGES images', async (t) => {
  const dir = await tempDir(t);
  const env = { IMAGES_DIR: dir, WORKSPACE_DIR: dir, SUPERVISOR_SOCKET: path.join(dir, 'none.sock') };
  const small = await startApiProcess(t, { ...env, BODY_LIMIT_BYTES: '1048576', MAX_INPUT_IMAGES: '2' });
  const warning = small.logs.find((l) => l.level === 40 && String(l.msg).startsWith('BODY_LIMIT_BYTES is below'));
  assert.ok(warning !== undefined, JSON.stringify(small.logs));
  assert.equal(warning.bodyLimitBytes, 1048576);
  assert.equal(warning.neededBytes, bodyBytesFor(2));
  const sized = await startApiProcess(t, { ...env, MAX_INPUT_IMAGES: '2' });
  assert.ok(!sized.logs.some((l) => String(l.msg).startsWith('BODY_LIMIT_BYTES')), 'the default is sized for the images');
});

void test('POST /command: the schema refuses bad image shapes, maxTurns and maxBudgetUsd by name, before any supervisor call', async (t) => {
  // No supervisor listens: a body that got past the checks would be a 503.
  const { app } = await buildTestApp(t, { imagesDir: await tempDir(t), bodyLimitBytes: bodyBytesFor(MAX_INPUT_IMAGES_CAP) });
  const cases: Array<{ body: Record<string, unknown>; says: RegExp }> = [
    { body: { images: [png, { mediaType: 'image/bmp', data: PNG_3X2 }] }, says: /images\[1\]\.mediaType must be equal to one of the allowed values \(image\/png, image\/jpeg, image\/gif, image\/webp\)/ },
    { body: { images: [{ mediaType: 'image/png' }] }, says: /images\[0\] must have required property 'data'/ },
    { body: { images: [{ ...png, name: 'x.png' }] }, says: /images\[0\] must NOT have additional properties/ },
    { body: { images: png }, says: /field images must be array/ },
    { body: { images: [{ mediaType: 'image/png', data: 'A'.repeat(MAX_IMAGE_BASE64_CHARS + 4) }] }, says: /^images\[0\]: the data is over the limit of 5242880 base64 characters/ },
    { body: { images: Array.from({ length: 21 }, () => png) }, says: /^images: at most 20 images/ },
    { body: { maxTurns: 0 }, says: /field maxTurns must be >= 1/ },
    { body: { maxTurns: 1.5 }, says: /field maxTurns must be integer/ },
    { body: { maxTurns: '3' }, says: /field maxTurns must be integer/ },
    { body: { maxBudgetUsd: 0 }, says: /field maxBudgetUsd must be > 0/ },
    { body: { maxBudgetUsd: '1' }, says: /field maxBudgetUsd must be number/ },
  ];
  for (const { body, says } of cases) {
    const res = await app.inject({ method: 'POST', url: '/command', payload: { text: 'look', ...body } });
    assert.equal(res.statusCode, 400, JSON.stringify(body).slice(0, 200));
    const answer = res.json<{ error: string; message: string }>();
    assert.equal(answer.error, 'bad_request');
    assert.match(answer.message, says);
  }
  const missingText = await app.inject({ method: 'POST', url: '/command', payload: { images: [png] } });
  assert.match(missingText.json<{ message: string }>().message, /non-empty string 'text' field/, 'text problems keep their own message');
});

/** The supervisor recorded no job at all: nothing running, none finished, none stored. */
async function assertNothingRan(s: Stack, what: string): Promise<void> {
  const status = await s.sup.request('GET', '/status');
  const body = status.body as { job: unknown; recentJobs: unknown[]; store: { jobs: number } };
  assert.equal(body.job, null, what);
  assert.deepEqual(body.recentJobs, [], what);
  assert.equal(body.store.jobs, 0, what);
  assert.equal(await runCount(s.runs), 0, what);
}

function postImages(s: Stack, body: Record<string, unknown>): ReturnType<typeof request> {
  return request(s.port, {
    method: 'POST',
    path: '/command',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: JSON.stringify({ runs: s.runs, result: 'looked' }), ...body }),
  });
}

async function imageStack(t: TestContext, bodyLimitBytes = bodyBytesFor(DEFAULT_MAX_INPUT_IMAGES)): Promise<Stack> {
  return startStack(t, {}, undefined, { bodyLimitBytes });
}

void test('through the API and a real supervisor: each bad image is a 400 naming it, and nothing runs', async (t) => {
  const s = await imageStack(t);
  for (const { name, image, says } of BAD_IMAGES) {
    const res = await postImages(s, { images: [png, image] });
    assert.equal(res.statusCode, 400, `${name}: ${res.text}`);
    const body = res.json();
    assert.equal(body.error, 'bad_request', name);
    assert.match(String(body.message), /^images\[1\]: /, name);
    assert.match(String(body.message), says, name);
    assert.ok(!('jobId' in body), `${name}: no job was started`);
  }
  const tooMany = await postImages(s, { images: Array.from({ length: DEFAULT_MAX_INPUT_IMAGES + 1 }, () => png) });
  assert.equal(tooMany.statusCode, 400);
  assert.equal(tooMany.json().message, 'images: 6 images sent; at most 5 are taken (MAX_INPUT_IMAGES)');
  const tooLarge = await postImages(s, { images: [png, { mediaType: 'image/png', data: 'A'.repeat(MAX_IMAGE_BASE64_CHARS + 4) }] });
  assert.equal(tooLarge.statusCode, 400, tooLarge.text);
  assert.match(String(tooLarge.json().message), /^images\[1\]: the data is over the limit of 5242880 base64 characters/);
  await assertNothingRan(s, 'after the bad images');
  assert.ok(!JSON.stringify(s.logs).includes(JPEG_3X2.slice(0, 60)), 'no image data in the logs');
});

void test('through the API and a real supervisor: a body over BODY_LIMIT_BYTES is a 413, and nothing runs', async (t) => {
  const s = await imageStack(t, 64 * 1024);
  const res = await postImages(s, { images: [{ mediaType: 'image/png', data: pngOfSize(60 * 1024) }] });
  assert.equal(res.statusCode, 413, res.text);
  assert.equal(res.json().error, 'payload_too_large');
  await assertNothingRan(s, 'after the 413');
});

void test('through the API and a real supervisor: good images and limits are passed on, the log counts them', async (t) => {
  const s = await imageStack(t);
  const images = [png, { mediaType: 'image/jpeg', data: JPEG_3X2 }, { mediaType: 'image/webp', data: WEBP_LOSSY_1X1 }];
  const res = await postImages(s, { images, maxTurns: 3, maxBudgetUsd: 0.5 });
  const body = res.json();
  assert.equal(typeof body.jobId, 'string', res.text);
  const received = s.logs.find((l) => l.msg === 'command received' && l.jobId === body.jobId);
  assert.equal(received?.imageCount, 3);
  assert.ok(!JSON.stringify(s.logs).includes(JPEG_3X2.slice(0, 60)), 'no image data in the logs');
  // The supervisor's own record of the start: it was given the job (whatever the fixture CLI made of it).
  const job = await s.sup.request('GET', `/jobs/${String(body.jobId)}`);
  assert.equal(job.status, 200);
});

void test('five 5 MiB images reach the supervisor within a start deadline that allows for their size', async (t) => {
  assert.equal(startAllowanceMs({ prompt: 'x'.repeat(10_000), images: [{ mediaType: 'image/png', data: 'A'.repeat(20_000) }] }), 3);
  // SUPERVISOR_TIMEOUT_MS of 100 ms alone could not carry 25 MiB across the socket and
  // through JSON.parse on this machine; the allowance (START_BYTES_PER_MS) does.
  const s = await startStack(t, {}, undefined, { bodyLimitBytes: bodyBytesFor(DEFAULT_MAX_INPUT_IMAGES), supervisorTimeoutMs: 100 });
  const largest = pngOfSize((MAX_IMAGE_BASE64_CHARS / 4) * 3);
  const images = Array.from({ length: DEFAULT_MAX_INPUT_IMAGES }, () => ({ mediaType: 'image/png', data: largest }));
  const res = await postImages(s, { images });
  assert.equal(res.statusCode, 200, res.text.slice(0, 500));
  assert.equal(res.json().text, 'looked');
  assert.equal(await runCount(s.runs), 1);
});
