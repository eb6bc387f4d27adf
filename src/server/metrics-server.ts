/**
 * The opt-in `--metrics-listen` endpoint: GET /metrics answers the live
 * `status` in Prometheus text format. It listens on loopback or a unix
 * socket only (config.ts refuses anything else): there is no
 * authentication. Runs on the main thread next to the control plane; a
 * scrape costs one status snapshot.
 */
import type { Server as HttpServer } from 'node:http';
import { chmodSync } from 'node:fs';
import { http as nodeHttp } from '../host/builtins.js';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { StatusReply } from '../lifecycle/status-reply.js';
import { CONTENT_TYPE, renderMetrics } from '../observability/openmetrics.js';
import { removeStaleSocket } from './server.js';

export class MetricsServer {
  readonly #http: HttpServer;
  /** Where it listens: the socket path, or host:port with the port actually bound. */
  readonly address: string;

  private constructor(http: HttpServer, address: string) {
    this.#http = http;
    this.address = address;
  }

  /** Starts listening on `listen` (a validated config.metricsListen value). */
  static async start(listen: string, status: () => StatusReply, log: Logger): Promise<MetricsServer> {
    const http = nodeHttp().createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      let body: string;
      try {
        body = renderMetrics(status());
      } catch (err) {
        log.error({ err }, 'could not render metrics');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('could not render metrics\n');
        return;
      }
      res.writeHead(200, { 'content-type': CONTENT_TYPE }).end(req.method === 'HEAD' ? undefined : body);
    });
    http.keepAliveTimeout = 5000;
    const isPath = listen.startsWith('/');
    if (isPath && (await removeStaleSocket(listen))) log.warn({ metrics: listen }, 'removed a stale metrics socket file');
    const old = isPath ? process.umask(0o177) : null;
    try {
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        const done = (): void => {
          http.off('error', reject);
          resolve();
        };
        if (isPath) http.listen(listen, done);
        else {
          const i = listen.lastIndexOf(':');
          http.listen(Number(listen.slice(i + 1)), listen.slice(0, i).replace(/^\[(.*)\]$/, '$1'), done);
        }
      });
    } finally {
      if (old !== null) process.umask(old);
    }
    if (isPath) chmodSync(listen, 0o600);
    http.on('error', (err) => log.error({ err }, 'metrics listener error'));
    const a = http.address();
    const address = isPath ? listen : `${(a as AddressInfo).family === 'IPv6' ? `[${(a as AddressInfo).address}]` : (a as AddressInfo).address}:${(a as AddressInfo).port}`;
    log.info({ metrics: address }, 'serving metrics at /metrics');
    return new MetricsServer(http, address);
  }

  /** Stops listening and drops idle keep-alive connections; a path socket is unlinked by the close. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#http.close(() => resolve());
      this.#http.closeAllConnections();
    });
  }
}
