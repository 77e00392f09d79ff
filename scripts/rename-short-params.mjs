#!/usr/bin/env node
// One-off codemod (issue "A shape the next maintainer can read"): renames function parameters of one or
// two characters in src/ to names derived from their type or use, through the TypeScript language
// service so every reference (shorthand properties included) follows. Tiny one-expression arrow
// functions keep their short names. A name already used anywhere in the function is never chosen, so
// no reference can be captured. Usage: node scripts/rename-short-params.mjs [--write]
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const write = process.argv.includes('--write');

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

/** Names for common types, where the type's own name would read badly. */
const BY_TYPE = {
  IncomingMessage: 'request',
  ServerResponse: 'response',
  Buffer: 'data',
  Uint8Array: 'bytes',
  Error: 'error',
  Duplex: 'socket',
  Socket: 'socket',
  ChildProcess: 'child',
  ChildProcessWithoutNullStreams: 'child',
  AbortSignal: 'signal',
  RegExp: 'pattern',
  URL: 'url',
  Date: 'date',
  Stats: 'stats',
  Dirent: 'entry',
  Logger: 'log',
  Config: 'config',
  Page: 'page',
  Frame: 'frame',
  Locator: 'locator',
  Dockerode: 'docker',
  Container: 'container',
};

/** Fallbacks by the short name itself, for primitives and anonymous types. */
const BY_LETTER = {
  a: 'first',
  b: 'second',
  e: 'error',
  f: 'file',
  i: 'index',
  k: 'key',
  l: 'line',
  m: 'match',
  n: 'count',
  o: 'options',
  p: 'filePath',
  r: 'result',
  u: 'url',
  v: 'value',
  w: 'writer',
  cb: 'callback',
  fn: 'callback',
  id: undefined, // "id" says what it is
  ok: undefined,
  to: undefined,
  sb: 'sandbox',
  op: 'operation',
  rs: 'results',
  ws: 'workspace',
  ms: undefined,
  re: 'pattern',
  ev: 'event',
  ex: 'error',
  fd: undefined,
  kb: undefined,
  db: undefined,
  ip: undefined,
  io: undefined,
};

/** Fallbacks that are only right for a parameter of this primitive type (or an unknown one). */
const LETTER_NEEDS = {
  e: 'unknown',
  p: 'string',
  s: 'string',
  d: 'string',
  u: 'string',
  l: 'string',
  n: 'number',
  i: 'number',
  k: 'string',
};

function primitiveOf(checker, param) {
  const type = checker.getTypeAtLocation(param);
  if (type.flags & (ts.TypeFlags.Unknown | ts.TypeFlags.Any)) return 'unknown';
  if (type.flags & ts.TypeFlags.StringLike) return 'string';
  if (type.flags & ts.TypeFlags.NumberLike) return 'number';
  return 'other';
}

const lowerFirst = (name) => name[0].toLowerCase() + name.slice(1);

const UTILITY_TYPES = new Set(['Omit', 'Pick', 'Partial', 'Required', 'Readonly', 'Record', 'NonNullable']);

function nameFromType(checker, param) {
  const type = checker.getTypeAtLocation(param);
  const alias = type.aliasSymbol?.getName();
  if (alias && !UTILITY_TYPES.has(alias)) return nameFromSymbol(checker, type);
  if (type.isUnion()) {
    const parts = type.types.filter((part) => !(part.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)));
    if (parts.length === 1) return nameFromSymbol(checker, parts[0]);
    return undefined;
  }
  return nameFromSymbol(checker, type);
}

function nameFromSymbol(checker, type) {
  if (checker.isArrayType(type)) {
    const element = checker.getTypeArguments(type)[0];
    const single = element && nameFromSymbol(checker, element);
    return single && !single.endsWith('s') ? `${single}s` : undefined;
  }
  const alias = type.aliasSymbol && !UTILITY_TYPES.has(type.aliasSymbol.getName()) ? type.aliasSymbol : undefined;
  const symbol = alias ?? type.getSymbol();
  const name = symbol?.getName();
  if (!name || name.startsWith('__') || name === 'Object' || name === 'Array' || name === 'Function') return undefined;
  if (name in BY_TYPE) return BY_TYPE[name];
  if (!/^[A-Z][A-Za-z0-9]+$/.test(name)) return undefined;
  return lowerFirst(name);
}

const isTinyLambda = (fn, sf) =>
  ts.isArrowFunction(fn) &&
  !ts.isBlock(fn.body) &&
  sf.getLineAndCharacterOfPosition(fn.getStart(sf)).line === sf.getLineAndCharacterOfPosition(fn.getEnd()).line;

const files = sourceFiles(path.join(ROOT, 'src'));
const versions = new Map(files.map((file) => [file, 0]));
const contents = new Map(files.map((file) => [file, readFileSync(file, 'utf8')]));
const configFile = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile);
const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT);
const host = {
  getScriptFileNames: () => files,
  getScriptVersion: (file) => String(versions.get(file) ?? 0),
  getScriptSnapshot: (file) => {
    const text = contents.get(file) ?? (ts.sys.fileExists(file) ? ts.sys.readFile(file) : undefined);
    return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
  },
  getCurrentDirectory: () => ROOT,
  getCompilationSettings: () => parsed.options,
  getDefaultLibFileName: (options) => ts.getDefaultLibFilePath(options),
  fileExists: ts.sys.fileExists,
  readFile: ts.sys.readFile,
  readDirectory: ts.sys.readDirectory,
  directoryExists: ts.sys.directoryExists,
  getDirectories: ts.sys.getDirectories,
};
const service = ts.createLanguageService(host, ts.createDocumentRegistry());

/** The next short parameter to rename: found afresh after each edit, since positions move. */
function nextCandidate(file, skip) {
  const program = service.getProgram();
  const sf = program.getSourceFile(file);
  const checker = program.getTypeChecker();
  let found;
  const visit = (node) => {
    if (found) return;
    if (ts.isFunctionLike(node) && node.body && !isTinyLambda(node, sf)) {
      for (const param of node.parameters) {
        if (!ts.isIdentifier(param.name)) continue;
        const short = param.name.text.replace(/^_+/, '');
        const key = `${file}:${param.name.getStart(sf)}:${param.name.text}`;
        if (short.length > 2 || skip.has(key) || (BY_LETTER[short] === undefined && short in BY_LETTER)) continue;
        const primitive = primitiveOf(checker, param);
        const fits = !LETTER_NEEDS[short] || primitive === LETTER_NEEDS[short] || primitive === 'unknown';
        // `a` alone holds a call's arguments; `a` and `b` together are the two sides of a comparison.
        const paired = node.parameters.some(
          (other) => ts.isIdentifier(other.name) && other.name.text === (short === 'a' ? 'b' : 'a'),
        );
        const letterName = short === 'a' && !paired ? 'args' : BY_LETTER[short];
        const wanted = nameFromType(checker, param) ?? (fits ? letterName : undefined);
        if (!wanted) {
          skip.add(key);
          continue;
        }
        const used = new Set(node.getText(sf).match(/[A-Za-z_$][A-Za-z0-9_$]*/g));
        const prefix = param.name.text.startsWith('_') ? '_' : '';
        let name = prefix + wanted;
        for (let n = 2; used.has(name); n++) name = `${prefix}${wanted}${n}`;
        found = { key, param: param.name, old: param.name.text, name, sf };
        return;
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

const skip = new Set();
const renames = [];
for (const file of files) {
  for (;;) {
    const candidate = nextCandidate(file, skip);
    if (!candidate) break;
    skip.add(candidate.key);
    const locations = service.findRenameLocations(file, candidate.param.getStart(candidate.sf), false, false, {
      providePrefixAndSuffixTextForRename: true,
    });
    if (!locations) continue;
    const line = candidate.sf.getLineAndCharacterOfPosition(candidate.param.getStart(candidate.sf)).line + 1;
    renames.push(`${path.relative(ROOT, file)}:${line} ${candidate.old} -> ${candidate.name}`);
    const byFile = new Map();
    for (const loc of locations) byFile.set(loc.fileName, [...(byFile.get(loc.fileName) ?? []), loc]);
    for (const [target, locs] of byFile) {
      let text = contents.get(target);
      for (const loc of locs.sort((x, y) => y.textSpan.start - x.textSpan.start)) {
        const replacement = `${loc.prefixText ?? ''}${candidate.name}${loc.suffixText ?? ''}`;
        text = text.slice(0, loc.textSpan.start) + replacement + text.slice(loc.textSpan.start + loc.textSpan.length);
      }
      contents.set(target, text);
      versions.set(target, versions.get(target) + 1);
    }
    // The skip keys hold positions of this file, which moved: later candidates are found by name anew.
    for (const key of [...skip]) if (key.startsWith(`${file}:`)) skip.delete(key);
    skip.add(`done:${file}:${line}:${candidate.name}`);
  }
}
console.log(renames.join('\n'));
console.error(`${renames.length} parameters renamed${write ? '' : ' (dry run: --write to apply)'}`);
if (write) for (const file of files) if (versions.get(file)) writeFileSync(file, contents.get(file));
