// The OpenAPI document (/openapi.json) is built from the routes' own schemas: every route
// is in it with its method, every error code of the registry is documented where it can
// be answered, and it says how to authenticate. A route added without a schema fails here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_STATUS } from '../../api/src/errors.ts';
import { buildTestApp, tempDir } from '../support/api-harness.ts';

interface Operation {
  summary?: string;
  responses: Record<string, { description: string; content?: Record<string, unknown> }>;
  security?: unknown[];
}

void test('every route and every error code is in /openapi.json', async (t) => {
  const dir = await tempDir(t);
  const { app } = await buildTestApp(t, { imagesDir: dir, apiToken: 'a-token-of-sixteen+' });
  const routes: Array<{ method: string; url: string }> = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method: method.toLowerCase(), url: r.url });
  });
  await app.ready();
  assert.ok(routes.length >= 8, `${routes.length} routes seen`);

  const unauthenticated = await app.inject({ url: '/openapi.json' });
  assert.equal(unauthenticated.statusCode, 401, 'the document needs the token like every route but /health');
  const res = await app.inject({ url: '/openapi.json', headers: { authorization: 'Bearer a-token-of-sixteen+' } });
  assert.equal(res.statusCode, 200);
  const doc = res.json() as { openapi: string; paths: Record<string, Record<string, Operation>>; components: { securitySchemes: Record<string, unknown> } };
  assert.match(doc.openapi, /^3\.1\./);
  assert.deepEqual(Object.keys(doc.components.securitySchemes), ['bearer', 'basic']);
  assert.deepEqual((doc as unknown as { security: unknown }).security, [{ bearer: [] }, { basic: [] }], 'either scheme');

  const documentedCodes = new Set<string>();
  for (const { method, url } of routes) {
    // Fastify's `:id` and `*` are OpenAPI's `{id}` and `{*}`.
    const path = url.replace(/:([A-Za-z]+)/g, '{$1}').replace(/\*$/, '{*}');
    const op = doc.paths[path]?.[method];
    assert.ok(op !== undefined, `${method.toUpperCase()} ${url} is in the document`);
    assert.ok(op.summary !== undefined && op.summary !== '', `${method} ${url} has a summary`);
    const statuses = Object.keys(op.responses);
    assert.ok(statuses.some((s) => s.startsWith('2')), `${method} ${url} declares its success`);
    // /health answers 200 and nothing else (no auth, no supervisor, not even at shutdown).
    if (url !== '/health') for (const s of ['400', '401', '500', '503']) assert.ok(statuses.includes(s), `${method} ${url} declares ${s}`);
    for (const [status, response] of Object.entries(op.responses)) {
      const codes = /^error: (.+)$/.exec(response.description)?.[1]?.split(', ') ?? [];
      for (const code of codes) {
        assert.equal(String(ERROR_STATUS[code as keyof typeof ERROR_STATUS]), status, `${code} is documented under its own status`);
        documentedCodes.add(code);
      }
    }
  }
  assert.deepEqual([...documentedCodes].sort(), Object.keys(ERROR_STATUS).sort(), 'every error code is documented on some route');
  const errorEnum = (doc.paths['/command']!.post!.responses['409']!.content!['application/json'] as { schema: { properties: { error: { enum: string[] } } } }).schema.properties.error.enum;
  assert.deepEqual([...errorEnum].sort(), Object.keys(ERROR_STATUS).sort());
  // Both ways to be answered are there: JSON and the event stream.
  assert.deepEqual(Object.keys(doc.paths['/command']!.post!.responses['200']!.content!).sort(), ['application/json', 'text/event-stream']);
  assert.deepEqual(doc.paths['/health']!.get!.security, [], '/health needs no token');
  // /status answers JSON, or the page.
  assert.deepEqual(Object.keys(doc.paths['/status']!.get!.responses['200']!.content!).sort(), ['application/json', 'text/html']);
});
