// A small Dockerfile reader for the deploy tests: instructions with their arguments, as
// Docker's own parser splits them (parser directives, comments, line continuations with
// the escape character, JSON exec form), plus readers for the flags and key=value forms.
// Heredocs are not supported: our Dockerfile has none, and the reader says so if one appears.

export interface Instruction {
  /** Upper-cased keyword: FROM, RUN, ENV... */
  keyword: string;
  /** Everything after the keyword, continuations joined with a space. */
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

export function parseDockerfile(text: string): Instruction[] {
  const lines = text.split(/\r?\n/);
  let escape = '\\';
  let index = 0;
  // Parser directives: leading `# name=value` comments, before anything else.
  for (; index < lines.length; index++) {
    const match = DIRECTIVE.exec(lines[index]!);
    if (match === null) break;
    if (match[1]!.toLowerCase() === 'escape') escape = match[2]!;
  }

  const instructions: Instruction[] = [];
  let pending: string[] = [];
  let start = 0;
  for (; index < lines.length; index++) {
    const raw = lines[index]!;
    const trimmed = raw.trim();
    // Comment lines, and empty lines, are dropped, even inside a continuation.
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (pending.length === 0) start = index + 1;
    const continued = trimmed.endsWith(escape);
    pending.push(continued ? trimmed.slice(0, -escape.length).trim() : trimmed);
    if (continued) continue;
    instructions.push(toInstruction(pending.join(' '), start));
    pending = [];
  }
  if (pending.length > 0) instructions.push(toInstruction(pending.join(' '), start));
  return instructions;
}

function toInstruction(joined: string, line: number): Instruction {
  const match = /^(\S+)\s*(.*)$/s.exec(joined);
  if (match === null) throw new Error(`line ${line}: cannot read instruction`);
  const keyword = match[1]!.toUpperCase();
  const args = match[2]!;
  if (/<<-?["']?[A-Za-z_]/.test(args) && (keyword === 'RUN' || keyword === 'COPY')) {
    throw new Error(`line ${line}: heredocs are not supported by this reader`);
  }
  return { keyword, args, line };
}

/** Leading `--name=value` flags (RUN --mount, HEALTHCHECK --interval, COPY --chown) and the rest. */
export function splitFlags(args: string): { flags: Map<string, string[]>; rest: string } {
  const flags = new Map<string, string[]>();
  let rest = args.trimStart();
  for (;;) {
    const match = /^--([a-zA-Z-]+)(?:=(\S*))?\s+/.exec(rest);
    if (match === null) break;
    const list = flags.get(match[1]!) ?? [];
    list.push(match[2] ?? 'true');
    flags.set(match[1]!, list);
    rest = rest.slice(match[0].length);
  }
  return { flags, rest };
}

/** The exec form (`["a", "b"]`) as an argv, or null for the shell form. */
export function execForm(args: string): string[] | null {
  const trimmed = args.trim();
  if (!trimmed.startsWith('[')) return null;
  try {
    const value: unknown = JSON.parse(trimmed);
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  } catch {
    // Docker treats invalid JSON as the shell form too.
  }
  return null;
}

/** Words with shell-style double/single quotes and backslash escapes removed. */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) word += text[++i];
      else word += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== null) throw new Error(`unterminated quote in: ${text}`);
  if (inWord) words.push(word);
  return words;
}

/** ENV and ARG pairs: `K=V K2="v 2"`, the legacy `ENV K value with spaces`, or a bare `ARG K`. */
export function keyValues(instruction: Instruction): Map<string, string | undefined> {
  const pairs = new Map<string, string | undefined>();
  const words = shellWords(instruction.args);
  if (instruction.keyword === 'ENV' && words.length > 0 && !words[0]!.includes('=')) {
    pairs.set(words[0]!, words.slice(1).join(' '));
    return pairs;
  }
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq === -1) pairs.set(word, undefined);
    else pairs.set(word.slice(0, eq), word.slice(eq + 1));
  }
  return pairs;
}
