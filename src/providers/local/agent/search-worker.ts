import { parentPort, workerData } from 'node:worker_threads';
import { toErrorBody } from './errors.js';
import { searchFiles, type SearchJob } from './search.js';

searchFiles(workerData as SearchJob).then(
  (result) => parentPort!.postMessage({ ok: true, result }),
  (err: unknown) => parentPort!.postMessage({ ok: false, error: toErrorBody(err) }),
);
