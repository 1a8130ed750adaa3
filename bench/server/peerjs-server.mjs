// Starts the PeerJS server (npm peer) on 127.0.0.1 and an OS-chosen port; prints "ready PORT".
// PEERJS_CONCURRENT_LIMIT raises its connection cap (default 5000) for the capacity benchmark.
import { PeerServer } from 'peer';

const limit = Number(process.env.PEERJS_CONCURRENT_LIMIT || 5000);
const server = PeerServer({ port: 0, host: '127.0.0.1', path: '/', key: 'peerjs', concurrent_limit: limit }, (s) => {
  console.log(`ready ${s.address().port}`);
});
process.on('SIGTERM', () => { server.close?.(); process.exit(0); });
