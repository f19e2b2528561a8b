import express from 'express';
import { lifeline } from 'express-lifeline';
import cors from 'cors'; import helmet from 'helmet';
const app = express();
if (process.argv[2] === 'lifeline') app.use(lifeline({ logger: false }));
if (process.argv[2] === 'ch') { app.use(cors({ origin: 'http://localhost:3000', credentials: true })); app.use(helmet()); }
app.get('/api/items', (_req, res) => res.json({ items: [{ id: 1, name: 'one' }, { id: 2, name: 'two' }] }));
const s = app.listen(8399, '127.0.0.1');
process.on('SIGINT', () => { s.close(); s.closeAllConnections(); process.exit(0); });
setTimeout(() => process.emit('SIGINT'), 9000);
