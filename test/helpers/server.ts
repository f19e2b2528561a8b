import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Running {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Listens on a free port of 127.0.0.1 and gives back the base URL. */
export async function listen(handler: { listen(port: number, host: string): Server }): Promise<Running> {
  const server = handler.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
