import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listen on an ephemeral port on 127.0.0.1 and return the origin (`http://127.0.0.1:PORT`). */
export async function listenLocal(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Drop open connections (including hung responses) and close the server. */
export async function closeLocal(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
