#!/usr/bin/env node
// Maintainability figures for src/ (issue "A shape the next maintainer can read"): lines over 120 columns,
// short parameter names, function length, long files, cross-provider imports. JSON on stdout.
// Usage: node scripts/code-metrics.mjs [--check]   (--check exits 1 when a target is missed)
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const SRC = path.join(ROOT, 'src');

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

/** Lines of a function's body that hold code: blank and comment-only lines are not counted. */
function codeLines(text) {
  let inBlock = false;
  let count = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (inBlock) {
      if (line.includes('*/')) inBlock = false;
      continue;
    }
    if (line === '' || line.startsWith('//')) continue;
    if (line.startsWith('/*')) {
      if (!line.includes('*/')) inBlock = true;
      continue;
    }
    count++;
  }
  return count;
}

/** A lambda whose body is one expression on one line: `(a) => a.id` keeps its short name. */
function isTinyLambda(fn, sf) {
  if (!ts.isArrowFunction(fn) || ts.isBlock(fn.body)) return false;
  const start = sf.getLineAndCharacterOfPosition(fn.getStart(sf)).line;
  const end = sf.getLineAndCharacterOfPosition(fn.getEnd()).line;
  return start === end;
}

const metrics = { files: 0, lines: 0, longLines: 0, params: 0, shortParams: 0, functions: [], filesOver300: [] };
const crossProvider = [];
const shortExamples = [];

for (const file of sourceFiles(SRC)) {
  const text = readFileSync(file, 'utf8');
  const rel = path.relative(ROOT, file);
  const lines = text.split('\n');
  metrics.files++;
  metrics.lines += lines.length;
  metrics.longLines += lines.filter((line) => line.length > 120).length;
  if (lines.length > 300) metrics.filesOver300.push({ file: rel, lines: lines.length });
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const providerDir = rel.match(/^src\/providers\/([^/]+)\//)?.[1];
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && providerDir && ts.isStringLiteral(node.moduleSpecifier)) {
      const target = path.relative(ROOT, path.resolve(path.dirname(file), node.moduleSpecifier.text));
      const targetDir = target.match(/^src\/providers\/([^/]+)\//)?.[1];
      if (targetDir && targetDir !== providerDir && targetDir !== 'shared') crossProvider.push(`${rel} -> ${target}`);
    }
    if (ts.isFunctionLike(node) && node.body) {
      if (!isTinyLambda(node, sf)) {
        for (const param of node.parameters) {
          if (!ts.isIdentifier(param.name)) continue;
          metrics.params++;
          if (param.name.text.replace(/^_+/, '').length <= 2) {
            metrics.shortParams++;
            if (shortExamples.length < 400)
              shortExamples.push(
                `${rel}:${sf.getLineAndCharacterOfPosition(param.getStart(sf)).line + 1} ${param.name.text}`,
              );
          }
        }
      }
      const name = node.name && ts.isIdentifier(node.name) ? node.name.text : '(anonymous)';
      const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
      metrics.functions.push({ where: `${rel}:${line} ${name}`, lines: codeLines(node.body.getText(sf)) });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
}

metrics.functions.sort((a, b) => b.lines - a.lines);
const report = {
  files: metrics.files,
  lines: metrics.lines,
  linesOver120: metrics.longLines,
  linesOver120Share: +(metrics.longLines / metrics.lines).toFixed(4),
  parameters: metrics.params,
  shortParameters: metrics.shortParams,
  shortParameterShare: +(metrics.shortParams / metrics.params).toFixed(4),
  longestFunctions: metrics.functions.slice(0, 10),
  functionsOver80Lines: metrics.functions.filter((fn) => fn.lines > 80).length,
  filesOver300Lines: metrics.filesOver300.sort((a, b) => b.lines - a.lines),
  crossProviderImports: crossProvider,
};
if (process.argv.includes('--short-names')) console.log(shortExamples.join('\n'));
else console.log(JSON.stringify(report, null, 2));

if (process.argv.includes('--check')) {
  const missed = [];
  if (report.linesOver120Share > 0.01)
    missed.push(`${report.linesOver120} lines over 120 columns (target at most 1 %)`);
  if (report.shortParameterShare > 0.1)
    missed.push(`${report.shortParameters} short parameter names (target at most 10 %)`);
  if (report.functionsOver80Lines > 0) missed.push(`${report.functionsOver80Lines} functions over 80 lines`);
  if (report.crossProviderImports.length > 0)
    missed.push(`${report.crossProviderImports.length} imports between provider folders`);
  if (missed.length) {
    console.error(`code-metrics: ${missed.join('; ')}`);
    process.exit(1);
  }
}
