// @ts-check
// The app module of the reload benchmark: `lifeline serve bench/cluster-app.js`.
import express from 'express';
import { lifeline } from 'express-lifeline';

const life = lifeline({ logger: false });
const app = express();
app.use(life);
app.get('/api/items', (_req, res) => {
  res.json({
    items: [
      { id: 1, name: 'one' },
      { id: 2, name: 'two' },
    ],
    pid: process.pid,
  });
});

export default app;
export const onShutdown = () => life.close();
