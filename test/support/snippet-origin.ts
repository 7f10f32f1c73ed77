// A tiny site for the snippet's Chromium test: it serves test pages and passes every other request
// to ingest, so page, /warren.js and POST /events share one origin (as behind Traefik).
import { createServer, request, type Server } from 'node:http';

export interface Site {
  url: string;
  close(): Promise<void>;
}

export async function startSite(
  port: number,
  ingestPort: number,
  pages: Record<string, string>,
): Promise<Site> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const page = pages[path];
    if (page !== undefined) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page);
      return;
    }
    const upstream = request(
      { host: '127.0.0.1', port: ingestPort, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end('{"error":"bad_gateway","message":"ingest is not reachable","details":[]}');
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
