// Users and groups read from /etc/passwd and /etc/group directly (no shell, no `id`), so
// the supervisor can drop the CLI to AGENT_USER's uid/gid and give it that user's HOME.
import { readFileSync } from 'node:fs';

export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** The login shell, as /etc/passwd names it. */
  shell?: string;
}

function readLines(file: string): string[][] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}

/** A user by name or numeric uid; undefined when /etc/passwd has no such entry. */
export function lookupUser(nameOrUid: string, passwdFile = '/etc/passwd'): UserEntry | undefined {
  const numeric = /^\d+$/.test(nameOrUid);
  for (const f of readLines(passwdFile)) {
    if (f.length < 7) continue;
    const [name, , uid, gid, , home, shell] = f as [string, string, string, string, string, string, string];
    if (numeric ? uid === nameOrUid : name === nameOrUid) {
      return { name, uid: Number(uid), gid: Number(gid), home, shell };
    }
  }
  return undefined;
}

/** A group id by name or number; undefined when /etc/group has no such name. */
export function lookupGroupId(nameOrGid: string, groupFile = '/etc/group'): number | undefined {
  if (/^\d+$/.test(nameOrGid)) return Number(nameOrGid);
  for (const f of readLines(groupFile)) {
    if (f.length >= 3 && f[0] === nameOrGid) return Number(f[2]);
  }
  return undefined;
}
