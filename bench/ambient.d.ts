// Just enough typing for the two untyped devDependencies the bench uses (neither ships
// its own types, and @types packages are not installed): express 5 for peer (b), and
// autocannon's programmatic API.

declare module 'express' {
  import type { IncomingMessage, Server, ServerResponse } from 'node:http';

  interface Request extends IncomingMessage {
    body: unknown;
  }
  interface Response extends ServerResponse {
    status(code: number): Response;
    json(body: unknown): Response;
  }
  type Handler = (req: Request, res: Response, next: (err?: unknown) => void) => void;
  interface Application {
    (req: IncomingMessage, res: ServerResponse): void;
    use(handler: Handler): Application;
    get(path: string, handler: Handler): Application;
    post(path: string, handler: Handler): Application;
    disable(setting: string): Application;
    listen(port: number, host: string, callback: () => void): Server;
  }
  interface Express {
    (): Application;
    json(options?: { limit?: string }): Handler;
  }
  const express: Express;
  export default express;
}

declare module 'autocannon' {
  export interface Options {
    url: string;
    connections?: number;
    duration?: number;
    pipelining?: number;
    method?: string;
    /** Each request in turn; setupRequest may rewrite it (e.g. a different path each time). */
    requests?: Array<{ method?: string; path?: string; setupRequest?: (req: { method?: string; path?: string }) => { method?: string; path?: string } }>;
  }
  export interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    p50: number;
    p90: number;
    p99: number;
    p99_9?: number;
    total?: number;
  }
  export interface Result {
    requests: Histogram;
    latency: Histogram;
    throughput: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
    duration: number;
    '2xx': number;
  }
  function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}
