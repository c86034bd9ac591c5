// The OpenAPI document (GET /openapi.json), built by @fastify/swagger from the routes'
// own schemas (schemas.ts): what the routes validate and answer with is what it says.
// Registered before any route, so that it sees them all.
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';

/** Register on the root app (the plugin is not encapsulated: it sees every route after it). */
export function openApi(app: FastifyInstance, version: string): void {
  void app.register(swagger, {
    openapi: {
      // 3.1: `type: [T, 'null']` as the routes have it, no conversion.
      openapi: '3.1.0',
      info: {
        title: 'agent-cockpit API',
        version,
        description:
          'Runs the Claude Code CLI for a relay (docs/api.md). Every answer that is not a success is `{ error, message, ...}` with a stable `error` code.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API_TOKEN (every route but /health)' },
          basic: {
            type: 'http',
            scheme: 'basic',
            description: 'Any user name, API_TOKEN as the password: for a browser (GET /status as a page), which cannot send a bearer token',
          },
        },
      },
      // Either one.
      security: [{ bearer: [] }, { basic: [] }],
    },
  });
}
