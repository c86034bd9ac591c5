// HTML built from templates that escape every value put into them: a value becomes markup
// only as a SafeHtml, which only `html` itself makes. Tool names, descriptions, image
// names, warnings and paths come from the agent or the machine: never markup.

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for an element's content or a quoted attribute value (either quote). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** Markup that is already safe: made by `html`, never from outside text. */
export class SafeHtml {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.markup;
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value as string | number | boolean));
}

/** A template whose values are escaped (arrays joined, null/undefined/false left out). */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

/**
 * Text inside a <script> or <style> element, which HTML does not unescape: it must not
 * close the element early. Only our own constants go there; this refuses anything else.
 */
export function rawText(text: string): SafeHtml {
  if (/<\/(script|style)/i.test(text) || text.includes('<!--')) throw new Error('raw text would end its element');
  return new SafeHtml(text);
}
