// The status page's icon, served by the API itself: without one a browser asks for
// /favicon.ico, a 404 in the page's console (and a data: icon would break its CSP).
export const ICON_PATH = '/status/icon.svg';

export const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1f6feb"/>' +
  '<path d="M6 23l6-8 5 5 8-11" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>';

export const ICON_HEADERS: Record<string, string> = {
  'content-type': 'image/svg+xml',
  // Behind the token like every route: only the browser that logged in keeps it.
  'cache-control': 'private, max-age=86400',
  'content-security-policy': "default-src 'none'",
};
