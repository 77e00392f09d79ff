import { FILE_HEADERS_ONLY, formatPatch, structuredPatch } from 'diff';
import { SandboxError } from '../errors.js';

export interface Edit {
  old_text: string;
  new_text: string;
  replace_all?: boolean;
}

const UNCHANGED = 'No edit was applied: the file is unchanged.';

/**
 * Applies edits in order, each to the result of the previous one. Any failure throws before anything
 * is written (all edits or none), naming the edit and why it failed.
 */
export function applyEdits(original: string, edits: Edit[], name: string): { text: string; replacements: number } {
  let text = original;
  let replacements = 0;
  const crlf = original.includes('\r\n');
  edits.forEach((edit, index) => {
    const which = edits.length > 1 ? `edit ${index + 1} of ${edits.length}` : 'the edit';
    let { old_text: oldText, new_text: newText } = edit;
    if (oldText === '')
      throw new SandboxError('INVALID_ARGUMENT', `${which}: old_text is empty`, {
        hint: `give the exact text to replace (to insert, include a neighbouring line in both old_text and new_text); use file_write to replace a whole file. ${UNCHANGED}`,
      });
    if (oldText === newText)
      throw new SandboxError(
        'INVALID_ARGUMENT',
        `${which}: old_text and new_text are the same, so it changes nothing`,
        { hint: UNCHANGED },
      );
    // A model usually sends \n; in a CRLF file the text to find has \r\n.
    if (crlf && !text.includes(oldText) && oldText.includes('\n') && !oldText.includes('\r\n')) {
      const o = oldText.replace(/\n/g, '\r\n');
      if (text.includes(o)) oldText = o;
    }
    // New lines take the file's CRLF endings unless old_text itself matched bare \n (a mixed file).
    if (crlf && !/(^|[^\r])\n/.test(oldText)) newText = newText.replace(/\r?\n/g, '\r\n');
    const at = occurrences(text, oldText);
    if (at.length === 0)
      throw new SandboxError('INVALID_ARGUMENT', `${which}: old_text was not found in ${name}`, {
        hint: `${notFoundHint(original, text, oldText)} ${UNCHANGED}`,
      });
    if (at.length > 1 && !edit.replace_all) {
      const lines = at.slice(0, 10).map((p) => lineOf(text, p));
      throw new SandboxError(
        'INVALID_ARGUMENT',
        `${which}: old_text matches ${at.length} times in ${name} (lines ${lines.join(', ')}${at.length > 10 ? ', ...' : ''})`,
        {
          hint: `add surrounding lines to old_text so it matches exactly once, or pass replace_all: true to replace every match. ${UNCHANGED}`,
        },
      );
    }
    if (edit.replace_all) text = text.split(oldText).join(newText);
    else text = text.slice(0, at[0]) + newText + text.slice(at[0]! + oldText.length);
    replacements += edit.replace_all ? at.length : 1;
  });
  return { text, replacements };
}

function occurrences(text: string, needle: string): number[] {
  const found: number[] = [];
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) found.push(i);
  return found;
}

function lineOf(text: string, index: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Says why an exact match failed when a near one exists: whitespace, or an earlier edit. */
function notFoundHint(original: string, current: string, oldText: string): string {
  if (original !== current && original.includes(oldText))
    return 'An earlier edit in this call changed that text: edits apply in order, each to the result of the one before.';
  if (oldText.length <= 4000) {
    const tokens = oldText
      .trim()
      .split(/\s+/)
      .map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    const near = new RegExp(tokens.join('\\s+')).exec(current);
    if (near)
      return `It matches at line ${lineOf(current, near.index)} only when whitespace is ignored: copy the exact text, indentation included, from file_read (without the line-number prefix).`;
  }
  return 'Read the file again with file_read and copy old_text exactly (without the line-number prefix).';
}

/**
 * A unified diff with 3 lines of context. Only the region between the common head and tail is
 * diffed, so a one-line change in a huge file stays fast; hunk line numbers are shifted back.
 */
export function unifiedDiff(name: string, before: string, after: string): string | undefined {
  if (before === after) return '';
  const max = Math.min(before.length, after.length);
  let p = 0;
  while (p < max && before.charCodeAt(p) === after.charCodeAt(p)) p++;
  let s = 0;
  while (s < max - p && before.charCodeAt(before.length - 1 - s) === after.charCodeAt(after.length - 1 - s)) s++;
  // Widen to whole lines plus 3 lines of context on each side.
  let from = before.lastIndexOf('\n', p - 1) + 1;
  for (let k = 0; k < 3 && from > 0; k++) from = before.lastIndexOf('\n', from - 2) + 1;
  // The first line end inside the common tail, so both excerpts end on the same newline.
  let tail = s === 0 ? -1 : before.indexOf('\n', before.length - s);
  tail = tail < 0 ? before.length : tail + 1;
  for (let k = 0; k < 3 && tail < before.length; k++) {
    const nl = before.indexOf('\n', tail);
    tail = nl < 0 ? before.length : nl + 1;
  }
  const suffix = before.length - tail;
  const skipped = lineOf(before, from) - 1;
  const patch = structuredPatch(
    name,
    name,
    before.slice(from, tail),
    after.slice(from, after.length - suffix),
    undefined,
    undefined,
    { context: 3, timeout: 5000 },
  );
  if (!patch) return undefined;
  for (const h of patch.hunks) {
    h.oldStart += skipped;
    h.newStart += skipped;
  }
  return formatPatch(patch, FILE_HEADERS_ONLY);
}
