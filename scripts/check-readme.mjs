// Checks README.md and docs/*.md (or the files given) for mistakes a reader trips on and
// prettier does not catch:
// - a link to a heading (`](#anchor)`, `](other.md#anchor)`) that matches no heading
//   (GitHub's slugs: lowercase, punctuation removed, spaces to `-`, `-1`, `-2` … for
//   repeated headings), or a relative link to a file that does not exist;
// - a table row whose cell count differs from its header's (an unescaped `|` in a cell,
//   even inside backticks, splits it on GitHub);
// - a table cell longer than MAX_CELL characters: a paragraph belongs below the table.
// Usage: node scripts/check-readme.mjs [file.md …]; exit 1 when anything is broken.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const MAX_CELL = 300;

/** The heading's text as GitHub renders it: links to their text, no code marks, no emphasis. */
function headingText(raw) {
  return raw
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .replace(/(\*\*|__|\*|_)(.+?)\1/g, '$2')
    .trim();
}

/** github-slugger: lowercase, drop what is neither letter, digit, mark, space, `-` nor `_`, spaces to `-`. */
function slug(text) {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(text) {
  const out = [];
  let fence;
  text.split('\n').forEach((line, i) => {
    const marker = /^\s*(```+|~~~+)/.exec(line);
    if (marker) {
      if (fence === undefined) fence = marker[1][0];
      else if (marker[1][0] === fence) fence = undefined;
      return;
    }
    if (fence === undefined) out.push({ line, number: i + 1 });
  });
  return out;
}

/** Cells of a table row: the number of unescaped `|` minus one (rows start and end with `|`). */
function cellCount(row) {
  let pipes = 0;
  for (let i = 0; i < row.length; i++) {
    if (row[i] === '\\') i++;
    else if (row[i] === '|') pipes++;
  }
  return pipes - 1;
}

/** The anchors of a Markdown file's headings, as GitHub makes them. */
const anchorCache = new Map();
function anchorsOf(file) {
  const key = resolve(file);
  if (anchorCache.has(key)) return anchorCache.get(key);
  const anchors = new Set();
  const seen = new Map();
  for (const { line } of proseLines(readFileSync(file, 'utf8'))) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(headingText(heading[1]));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  anchorCache.set(key, anchors);
  return anchors;
}

/** Cells of a table row, without the outer pipes (escaped `\|` stays in its cell). */
function cells(row) {
  const out = [];
  let cell = '';
  for (let i = 0; i < row.length; i++) {
    if (row[i] === '\\') {
      cell += row[i] + (row[i + 1] ?? '');
      i++;
    } else if (row[i] === '|') {
      out.push(cell);
      cell = '';
    } else cell += row[i];
  }
  return out.slice(1).map((c) => c.trim());
}

function check(file) {
  const lines = proseLines(readFileSync(file, 'utf8'));
  const problems = [];
  const anchors = anchorsOf(file);

  let links = 0;
  for (const { line, number } of lines) {
    // Inline code is not a link: `[a](b)` inside backticks is left alone.
    const prose = line.replace(/`[^`]*`/g, '``');
    for (const match of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      links++;
      const [path, anchor] = target.split('#', 2);
      const linked = path === '' ? file : join(dirname(file), decodeURIComponent(path));
      if (path !== '' && !existsSync(linked)) {
        problems.push(`${file}:${number}: no file ${relative('.', linked)} for the link ${target}`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!linked.endsWith('.md') || statSync(linked).isDirectory()) continue;
      if (!anchorsOf(linked).has(anchor)) problems.push(`${file}:${number}: no heading for the link ${target}`);
    }
  }

  let tables = 0;
  let rows = 0;
  for (let i = 0; i < lines.length; i++) {
    const isRow = (k) => lines[k] !== undefined && lines[k].number === lines[i].number + (k - i) && /^\s*\|/.test(lines[k].line);
    if (!isRow(i) || (i > 0 && isRow(i - 1) && lines[i - 1].number === lines[i].number - 1)) continue;
    tables++;
    const header = cellCount(lines[i].line);
    for (let k = i; isRow(k); k++) {
      rows++;
      const count = cellCount(lines[k].line);
      if (count !== header) problems.push(`${file}:${lines[k].number}: ${count} cells, the header has ${header}`);
      for (const cell of cells(lines[k].line)) {
        if (cell.length > MAX_CELL && !/^-+$/.test(cell))
          problems.push(
            `${file}:${lines[k].number}: a cell of ${cell.length} characters (at most ${MAX_CELL}): put the text below the table`,
          );
      }
    }
  }
  return { problems, summary: `${file}: ${anchors.size} headings, ${links} internal links, ${tables} tables (${rows} rows)` };
}

let broken = 0;
const docs = existsSync('docs')
  ? readdirSync('docs')
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => join('docs', f))
  : [];
for (const file of process.argv.length > 2 ? process.argv.slice(2) : ['README.md', ...docs]) {
  const { problems, summary } = check(file);
  for (const problem of problems) console.log(problem);
  console.log(`${summary}: ${problems.length} broken`);
  broken += problems.length;
}
process.exitCode = broken === 0 ? 0 : 1;
