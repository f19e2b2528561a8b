// Checks README.md (or the files given) for two mistakes a reader trips on and
// prettier does not catch:
// - an internal link `](#anchor)` that matches no heading (GitHub's slugs: lowercase,
//   punctuation removed, spaces to `-`, `-1`, `-2` … for repeated headings);
// - a table row whose cell count differs from its header's (an unescaped `|` in a cell,
//   even inside backticks, splits it on GitHub).
// Usage: node scripts/check-readme.mjs [file.md …]; exit 1 when anything is broken.
import { readFileSync } from 'node:fs';

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

function check(file) {
  const lines = proseLines(readFileSync(file, 'utf8'));
  const problems = [];

  const anchors = new Set();
  const seen = new Map();
  for (const { line } of lines) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(headingText(heading[1]));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  let links = 0;
  for (const { line, number } of lines) {
    for (const match of line.matchAll(/\]\(#([^)\s]*)\)/g)) {
      links++;
      if (!anchors.has(match[1])) problems.push(`${file}:${number}: no heading for the link #${match[1]}`);
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
      const cells = cellCount(lines[k].line);
      if (cells !== header) problems.push(`${file}:${lines[k].number}: ${cells} cells, the header has ${header}`);
    }
  }
  return { problems, summary: `${file}: ${anchors.size} headings, ${links} internal links, ${tables} tables (${rows} rows)` };
}

let broken = 0;
for (const file of process.argv.length > 2 ? process.argv.slice(2) : ['README.md']) {
  const { problems, summary } = check(file);
  for (const problem of problems) console.log(problem);
  console.log(`${summary}: ${problems.length} broken`);
  broken += problems.length;
}
process.exitCode = broken === 0 ? 0 : 1;
