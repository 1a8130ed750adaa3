// Starts the PeerJS server (npm peer) on 127.0.0.1 and an OS-chosen port; prints "ready PORT".
import { PeerServer } from 'peer';

const server = PeerServer({ port: 0, host: '127.0.0.1', path: '/', key: 'peerjs' }, (s) => {
  console.log(`ready ${s.address().port}`);
});
process.on('SIGTERM', () => { server.close?.(); process.exit(0); });
