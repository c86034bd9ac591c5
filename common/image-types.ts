// What counts as an image file in IMAGES_DIR, by its extension: the API lists and serves
// these, the supervisor prunes these (and nothing else it finds there).

export const IMAGE_CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
});

/** Content type for an image file name (case-insensitive extension), or null if not an image. */
export function imageContentType(name: string): string | null {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return null;
  return IMAGE_CONTENT_TYPES[name.slice(dot + 1).toLowerCase()] ?? null;
}
