// @ts-check
// The app module of the reload benchmark: `lifeline serve bench/cluster-app.js`.
import express from 'express';
import { lifeline } from 'express-lifeline';
import { itemsRoute } from './items-route.js';

const life = lifeline({ logger: false });
const app = express();
app.use(life);
app.get('/api/items', itemsRoute);

export default app;
export const onShutdown = () => life.close();
