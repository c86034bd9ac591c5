// Pictures a user sends with a prompt (a WhatsApp photo, a screenshot of a bug): the
// shape both processes accept and the limits, defined once. The Messages API's own limits
// (docs: "Vision"): at most 5 MB per image as sent (base64), at most 8000 px a side, and
// 2000 px a side once a request holds more than 20 images; so a job takes at most 20.
import { Type, type Static } from '@sinclair/typebox';

export const INPUT_IMAGE_MEDIA_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;
export type InputImageMediaType = (typeof INPUT_IMAGE_MEDIA_TYPES)[number];

/** Largest image, as its base64 text (the Messages API counts what it is sent): 5 MiB. */
export const MAX_IMAGE_BASE64_CHARS = 5 * 1024 * 1024;
/** Longest side the Messages API takes, in pixels. */
export const MAX_IMAGE_SIDE_PX = 8000;
/** The most images a job may carry at all (MAX_INPUT_IMAGES is at most this). */
export const MAX_INPUT_IMAGES_CAP = 20;
/** MAX_INPUT_IMAGES when unset. */
export const DEFAULT_MAX_INPUT_IMAGES = 5;

export const inputImageSchema = Type.Object(
  {
    mediaType: Type.Unsafe<InputImageMediaType>({ type: 'string', enum: [...INPUT_IMAGE_MEDIA_TYPES], description: 'What the bytes are.' }),
    data: Type.String({ minLength: 1, maxLength: MAX_IMAGE_BASE64_CHARS, description: 'The image file, base64 (standard alphabet, padded).' }),
  },
  { additionalProperties: false, description: 'An image for the model to look at, sent with the prompt.' },
);
/** An image for the model to look at, sent with the prompt. */
export type InputImage = Static<typeof inputImageSchema>;

export const inputImagesSchema = Type.Array(inputImageSchema, {
  maxItems: MAX_INPUT_IMAGES_CAP,
  description: `Images for the model, in the first user message (at most MAX_INPUT_IMAGES, ${DEFAULT_MAX_INPUT_IMAGES} unless set).`,
});

// ---- Checking images before a job starts ----

/** The prompt's share of a request body (what BODY_LIMIT_BYTES was before images). */
export const PROMPT_BODY_BYTES = 1024 * 1024;
/** Room in a body for the JSON around the prompt and the images (keys, quotes, options). */
export const BODY_JSON_ALLOWANCE_BYTES = 64 * 1024;
/** The largest BODY_LIMIT_BYTES the API accepts: 20 images with room to spare. */
export const MAX_BODY_LIMIT_BYTES = 128 * 1024 * 1024;

/** A request body that holds a prompt and `maxImages` images of the largest size. */
export function bodyBytesFor(maxImages: number): number {
  return PROMPT_BODY_BYTES + maxImages * MAX_IMAGE_BASE64_CHARS + BODY_JSON_ALLOWANCE_BYTES;
}

/** The size limit in words, for every message that refuses an image for its size. */
export const MAX_IMAGE_SIZE_WORDS = `${MAX_IMAGE_BASE64_CHARS} base64 characters (5 MiB, about 3.75 MiB of image)`;
