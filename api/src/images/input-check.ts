// Checking the images of a POST /command before a job starts: the count, strict base64,
// the size the Messages API takes, the real type by its magic numbers against the declared
// one, and the dimensions (image-size reads them from the header). Pure; one base64 decode
// per image. The shape and the limits are common/input-images.ts.
import { imageSize } from 'image-size';
import { MAX_IMAGE_BASE64_CHARS, MAX_IMAGE_SIDE_PX, MAX_IMAGE_SIZE_WORDS, type InputImage, type InputImageMediaType } from '../../../common/input-images.ts';


/** What is wrong with an image (or with the count: `index` null), for a 400 that names it. */
export interface InputImageProblem {
  index: number | null;
  kind: 'count' | 'base64' | 'data_url' | 'too_large' | 'type' | 'unreadable' | 'dimensions';
  /** Why, in words, without the index. */
  reason: string;
  /** `images[1]: <reason>` (or `images: <reason>`): what the API answers. */
  message: string;
}

const NAMES: Record<InputImageMediaType, string> = { 'image/png': 'PNG', 'image/jpeg': 'JPEG', 'image/gif': 'GIF', 'image/webp': 'WebP' };
/** image-size's type names for the media types taken. */
const MEDIA_TYPE_OF: Record<string, InputImageMediaType> = { png: 'image/png', jpg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' };

function startsWith(bytes: Uint8Array, at: number, ascii: string): boolean {
  if (bytes.length < at + ascii.length) return false;
  for (let i = 0; i < ascii.length; i++) if (bytes[at + i] !== ascii.charCodeAt(i)) return false;
  return true;
}

/** The media type the magic numbers say, when they are one of ours: only to word a refusal. */
function looksLike(bytes: Uint8Array): InputImageMediaType | null {
  if (startsWith(bytes, 0, '\x89PNG\r\n\x1a\n')) return 'image/png';
  if (startsWith(bytes, 0, '\xff\xd8\xff')) return 'image/jpeg';
  if (startsWith(bytes, 0, 'GIF87a') || startsWith(bytes, 0, 'GIF89a')) return 'image/gif';
  if (startsWith(bytes, 0, 'RIFF') && startsWith(bytes, 8, 'WEBP')) return 'image/webp';
  return null;
}

type Problem = Pick<InputImageProblem, 'kind' | 'reason'>;

/** Why `data` is not strict base64 (standard alphabet, padded, nothing else), or null. */
function base64Problem(data: string): Problem | null {
  if (/^data:/i.test(data)) return { kind: 'data_url', reason: 'the data is a data: URL; send only the base64 after the comma (the type goes in mediaType)' };
  const reason = base64Reason(data);
  return reason === null ? null : { kind: 'base64', reason };
}

function base64Reason(data: string): string | null {
  if (data === '') return 'the data is empty';
  const bad = /[^A-Za-z0-9+/=]/.exec(data);
  if (bad !== null) {
    const at = `at character ${bad.index}`;
    if (/\s/.test(bad[0])) return `the data is not base64: it holds whitespace (${at}); send it without line breaks or spaces`;
    if (bad[0] === '-' || bad[0] === '_') return `the data is not base64: it uses the URL-safe alphabet ('-' or '_' ${at}); use the standard one ('+' and '/')`;
    return `the data is not base64: character ${bad.index} is outside the base64 alphabet`;
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) return "the data is not base64: '=' may only pad the end, at most twice";
  if (data.length % 4 !== 0) return `the data is not base64: its length (${data.length}) is not a multiple of 4 (is the '=' padding missing?)`;
  return null;
}

/** Why one image cannot be sent to the model, or null. */
function imageProblem(image: InputImage): Problem | null {
  const { data, mediaType } = image;
  const name = NAMES[mediaType];
  const notBase64 = base64Problem(data);
  if (notBase64 !== null) return notBase64;
  if (data.length > MAX_IMAGE_BASE64_CHARS) {
    return {
      kind: 'too_large',
      reason: `the data is ${data.length} base64 characters, over the limit of ${MAX_IMAGE_SIZE_WORDS}`,
    };
  }
  const decoded = Buffer.from(data, 'base64');
  // A small Buffer is a slice of Node's shared pool, and image-size reads through a
  // DataView on the whole ArrayBuffer: past the end of a short file it would read the
  // neighbouring allocation as a size instead of throwing. Give it bytes of its own.
  const bytes = decoded.byteOffset === 0 && decoded.buffer.byteLength === decoded.length ? decoded : new Uint8Array(decoded);
  let size: { width: number; height: number; type?: string } | null;
  try {
    size = imageSize(bytes);
  } catch {
    size = null;
  }
  const real = size?.type !== undefined ? (MEDIA_TYPE_OF[size.type] ?? null) : null;
  if (size === null || real === null) {
    const looks = looksLike(bytes);
    if (looks === mediaType) return { kind: 'unreadable', reason: `the data starts like a ${name} but its size cannot be read (truncated or damaged?)` };
    if (looks !== null) return { kind: 'type', reason: `the data is not a ${name} (it starts like a ${NAMES[looks]})` };
    const other = size?.type !== undefined ? `it looks like ${size.type.toUpperCase()}, which is not taken` : 'it is no image type known here';
    return { kind: 'type', reason: `the data is not a ${name} (${other}; PNG, JPEG, GIF and WebP are taken)` };
  }
  if (real !== mediaType) return { kind: 'type', reason: `the data is not a ${name} (it starts like a ${NAMES[real]})` };
  const { width, height } = size;
  if (!(width > 0 && height > 0)) return { kind: 'dimensions', reason: `the image is ${width}×${height} px: it has no pixels` };
  if (width > MAX_IMAGE_SIDE_PX || height > MAX_IMAGE_SIDE_PX) {
    return { kind: 'dimensions', reason: `the image is ${width}×${height} px; each side may be at most ${MAX_IMAGE_SIDE_PX} px` };
  }
  return null;
}

/**
 * The first reason the model could not take these images, or null: at most `maxCount`
 * (MAX_INPUT_IMAGES), each strict base64 of at most MAX_IMAGE_BASE64_CHARS, whose bytes are
 * the declared type and at most MAX_IMAGE_SIDE_PX a side. Pure; one base64 decode per image.
 */
export function checkInputImages(images: readonly InputImage[], maxCount: number): InputImageProblem | null {
  if (images.length > maxCount) {
    const reason =
      maxCount === 0
        ? 'this service takes no images (MAX_INPUT_IMAGES is 0)'
        : `${images.length} images sent; at most ${maxCount} are taken (MAX_INPUT_IMAGES)`;
    return { index: null, kind: 'count', reason, message: `images: ${reason}` };
  }
  for (const [index, image] of images.entries()) {
    const problem = imageProblem(image);
    if (problem !== null) return { index, ...problem, message: `images[${index}]: ${problem.reason}` };
  }
  return null;
}
