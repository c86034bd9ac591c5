// The status page's response headers. A fresh nonce per response lets exactly the page's
// own inline <style> and <script> run; nothing else may load but same-origin images
// (/images/...) and same-origin fetch/EventSource (/status, /jobs/:id/events).
import { randomBytes } from 'node:crypto';

/** 128 random bits, base64 (CSP's nonce-source grammar). */
export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Headers of the HTML answer (X-Content-Type-Options comes with every answer: app.ts). */
export function pageHeaders(nonce: string): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': contentSecurityPolicy(nonce),
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
  };
}
