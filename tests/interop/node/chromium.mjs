// How the interop suite starts Debian's Chromium (render.mjs, judge.mjs):
// headless, and unable to reach anything but loopback. Every name resolves
// to nothing unless `hosts` maps it (`{name: address}`), and every request
// a name would still send goes to a dead proxy (port 9 of loopback), except
// to the mapped names (`bypass`, `<-loopback>` for a file:// page).

export const CHROMIUM = '/usr/bin/chromium';

export function isolatedArgs(hosts = {}, bypass = '<-loopback>') {
  const rules = Object.keys(hosts)
    .map((h) => `MAP ${h} ${hosts[h]}`)
    .concat(['MAP * ~NOTFOUND'])
    .join(', ');
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--host-resolver-rules=${rules}`,
    '--proxy-server=http://127.0.0.1:9',
    `--proxy-bypass-list=${bypass}`,
  ];
}
