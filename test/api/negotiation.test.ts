// Which answers of GET /status are the page: only an Accept that names text/html and
// weighs it over JSON. Everything else, no Accept included, stays JSON.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prefersHtml } from '../../api/src/negotiation.ts';

void test('the page only for an Accept that prefers text/html to JSON, q-values included', () => {
  const html = [
    'text/html',
    'TEXT/HTML',
    'text/html; charset=utf-8',
    // Chromium's and Firefox's navigations.
    'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7',
    'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    'text/html, */*', // named beats a wildcard of the same weight
    'text/html, application/json;q=0.9',
    'application/json;q=0.5, text/html;q=0.6',
    'text/html;q=0.2, */*;q=0.1',
    'text/html;q=1.000',
    'text/html ; q=0.5, application/*;q=0.4',
    'application/json;q=0, text/html',
    'text/html;level=1',
  ];
  const json = [
    undefined,
    '',
    '*/*',
    'application/json',
    'application/json, text/html', // equal and both named: JSON stays the default
    'text/html, application/json',
    'text/html;q=0.5, */*', // */* gives JSON 1
    'text/html;q=0.5, application/json;q=0.8',
    'text/*',
    'text/*, application/json;q=0.1',
    'text/html;q=0',
    'text/html;q=0.000, */*;q=0.1',
    'text/html;q=abc', // a malformed weight: the range is left out
    'text/html;q=1.5',
    'text/html;q=-1',
    'text/event-stream',
    'text/plain',
    'application/xhtml+xml',
    'html',
    'text/htmlx',
    '*/html',
    'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', // an <img>
  ];
  for (const accept of html) assert.equal(prefersHtml(accept), true, String(accept));
  for (const accept of json) assert.equal(prefersHtml(accept), false, String(accept));
});
