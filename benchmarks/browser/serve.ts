// A static server on localhost: the bench page (npm run bench:browser) and the pages the browser tests open.
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

export type Routes = (path: string) => { body: Uint8Array | string; type: string } | null;

/** Serves `routes(path)` (bytes and a content type, or null for 404) on 127.0.0.1; port 0 (the default) takes a free one. */
export async function serve(routes: Routes, port = 0): Promise<StaticServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let route: ReturnType<Routes>;
    try {
      route = routes(decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname));
    } catch (e) {
      // A file gone from the folder (or a malformed path) fails that request, not the server.
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${(e as Error).message}\n`);
      return;
    }
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': route.type }).end(route.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject); // a port in use
    server.listen(port, '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
