import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxError } from '../errors.js';

/** Shipped in the package beside dist/ (package.json "files"). */
const TEMPLATES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'templates');

/** How a project is run and built; copied into the project as .webdev.json by webdev_create. */
export interface ProjectSpec {
  template: string;
  description: string;
  dev: string;
  build: string;
  outDir: string;
  port: number;
  install: boolean;
}

export const PROJECT_META = '.webdev.json';

export async function listTemplates(): Promise<ProjectSpec[]> {
  const names = (await fs.readdir(TEMPLATES_DIR, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  return Promise.all(names.map(readSpec));
}

async function readSpec(name: string): Promise<ProjectSpec> {
  const raw = JSON.parse(await fs.readFile(path.join(TEMPLATES_DIR, name, 'template.json'), 'utf8')) as Omit<
    ProjectSpec,
    'template'
  >;
  return { template: name, ...raw };
}

export async function getTemplate(
  name: string,
): Promise<{ spec: ProjectSpec; files: { path: string; data: Buffer }[] }> {
  const all = await listTemplates();
  if (!all.some((t) => t.template === name)) {
    throw new SandboxError('INVALID_ARGUMENT', `no template "${name}"`, {
      hint: `pick one of: ${all.map((t) => t.template).join(', ')} (webdev_templates describes them)`,
    });
  }
  const root = path.join(TEMPLATES_DIR, name);
  const files: { path: string; data: Buffer }[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) await walk(abs);
      else if (e.isFile() && abs !== path.join(root, 'template.json'))
        files.push({ path: path.relative(root, abs).split(path.sep).join('/'), data: await fs.readFile(abs) });
    }
  };
  await walk(root);
  return { spec: await readSpec(name), files };
}
