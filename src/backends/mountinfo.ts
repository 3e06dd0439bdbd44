/** Parser for /proc/self/mountinfo (proc(5)): which file system is mounted where. */
import { readFile } from 'node:fs/promises';

export interface MountEntry {
  mountId: number;
  parentId: number;
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
  superOptions: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (left.length < 6 || right.length < 2) continue;
    out.push({
      mountId: Number(left[0]),
      parentId: Number(left[1]),
      root: unescapeOctal(left[3]!),
      mountPoint: unescapeOctal(left[4]!),
      fsType: right[0]!,
      source: unescapeOctal(right[1]!),
      superOptions: right[2] ?? '',
    });
  }
  return out;
}

/** The entry mounted last (the visible one) exactly at mountPoint, if any. */
export function findMount(entries: MountEntry[], mountPoint: string): MountEntry | undefined {
  let found: MountEntry | undefined;
  for (const e of entries) if (e.mountPoint === mountPoint) found = e;
  return found;
}

export async function readMountInfo(path = '/proc/self/mountinfo'): Promise<MountEntry[]> {
  return parseMountInfo(await readFile(path, 'utf8'));
}
