// GET /images/<name>: one image file from IMAGES_DIR. The raw URL segment is checked and
// decoded exactly once (names.ts); the file is opened once and checked on its descriptor
// (serve.ts). Bad names are 400; missing files, non-images and links leading out of the
// folder are all 404, so the answer says nothing about what lies outside.
import type { FastifyInstance } from 'fastify';
import { pathOf, type RouteContext } from '../context.ts';
import { errors } from '../errors.ts';
import { errorResponses } from '../schemas.ts';
import { parseImageName } from '../images/names.ts';
import { openImage } from '../images/serve.ts';

const PREFIX = '/images/';

const binary = { schema: { type: 'string', format: 'binary' } };
const imageSchema = {
  summary: 'An image a job wrote (the URLs in answers and `image` events)',
  response: {
    200: { description: 'The file', content: { 'image/png': binary, 'image/jpeg': binary, 'image/gif': binary, 'image/webp': binary } },
    ...errorResponses('not_found'),
  },
} as const;

export function imageRoutes(app: FastifyInstance, ctx: RouteContext): void {
  // A wildcard, not `:filename`, so `/images/a/b` and `/images/../x` reach this check
  // (and get 400) instead of falling through to a generic 404.
  app.get('/images/*', { schema: imageSchema }, async (request, reply) => {
    const rawPath = pathOf(request.raw.url ?? '');
    const check = rawPath.startsWith(PREFIX) ? parseImageName(rawPath.slice(PREFIX.length)) : { ok: false as const, reason: 'bad path' };
    if (!check.ok) throw errors.badRequest(`Invalid image name: ${check.reason}`);
    const opened = await openImage(ctx.images.rootReal, check.name);
    if (!opened.ok) {
      if (opened.reason === 'refused') request.log.warn({ url: rawPath }, 'refused an image outside the images folder');
      throw errors.notFound('No such image');
    }
    const { handle, size, contentType } = opened.image;
    reply.header('content-type', contentType);
    reply.header('content-length', size);
    reply.header('cache-control', 'no-store');
    reply.header('content-security-policy', "default-src 'none'");
    if (size === 0) {
      await handle.close();
      return reply.send('');
    }
    // Exactly the bytes fstat saw: a file still growing cannot overrun Content-Length.
    return reply.send(handle.createReadStream({ start: 0, end: size - 1 }));
  });
}
