import { webHost } from '../preview/web-host.js';
import { LocalSiteStore } from './store.js';

const stores = new Map<string, LocalSiteStore>();

/** The deploy target of this server (local: the site store in the state dir, served by the web host). */
export function siteStore(stateDir: string): LocalSiteStore {
  let s = stores.get(stateDir);
  if (!s) {
    s = new LocalSiteStore(stateDir, (site) => webHost.siteUrl(site));
    stores.set(stateDir, s);
  }
  return s;
}
