// @ts-check
import express from 'express';

const TITLE_MAX = 200;
const BODY_MAX = 10_000;

/** @param {number} status @param {string} message */
function httpError(status, message) {
  return Object.assign(new Error(message), { status, expose: true });
}

/** @param {unknown} raw */
function parseId(raw) {
  const id = typeof raw === 'string' && /^[1-9]\d{0,9}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id)) throw httpError(400, 'id: expected a positive integer');
  return id;
}

/**
 * Checks a note from a request body; `partial` allows leaving fields out (PATCH).
 * @param {unknown} input @param {boolean} partial
 */
function validNote(input, partial) {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw httpError(400, 'body: expected a JSON object');
  const { title, body, ...rest } = /** @type {Record<string, unknown>} */ (input);
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw httpError(400, `${unknown[0]}: unknown field (expected title, body)`);
  /** @type {{ title?: string, body?: string }} */
  const note = {};
  if (title !== undefined || !partial) {
    if (typeof title !== 'string' || title.trim() === '' || title.length > TITLE_MAX) {
      throw httpError(400, `title: expected a string of 1-${TITLE_MAX} characters`);
    }
    note.title = title.trim();
  }
  if (body !== undefined) {
    if (typeof body !== 'string' || body.length > BODY_MAX)
      throw httpError(400, `body: expected a string of at most ${BODY_MAX} characters`);
    note.body = body;
  }
  if (partial && Object.keys(note).length === 0) throw httpError(400, 'body: expected title or body');
  return note;
}

/** @param {import('express').Request} req */
function requireJson(req) {
  if (!req.is('application/json')) throw httpError(415, 'Content-Type: expected application/json');
}

/** The notes API: list, create, read, update, delete. @param {import('knex').Knex} db */
export function notesRouter(db) {
  const router = express.Router();
  const columns = ['id', 'title', 'body', 'created_at', 'updated_at'];

  router.get('/', async (req, res) => {
    const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw httpError(400, 'limit: expected an integer 1-200');
    res.json(await db('notes').select(columns).orderBy('id', 'desc').limit(limit));
  });

  router.post('/', async (req, res) => {
    requireJson(req);
    const note = validNote(req.body, false);
    const [row] = await db('notes')
      .insert({ title: note.title, body: note.body ?? '' })
      .returning(columns);
    res.status(201).location(`/api/notes/${row.id}`).json(row);
  });

  router.get('/:id', async (req, res) => {
    const row = await db('notes')
      .select(columns)
      .where({ id: parseId(req.params.id) })
      .first();
    if (!row) throw httpError(404, 'note not found');
    res.json(row);
  });

  router.patch('/:id', async (req, res) => {
    requireJson(req);
    const id = parseId(req.params.id);
    const note = validNote(req.body, true);
    const [row] = await db('notes')
      .where({ id })
      .update({ ...note, updated_at: db.fn.now() })
      .returning(columns);
    if (!row) throw httpError(404, 'note not found');
    res.json(row);
  });

  router.delete('/:id', async (req, res) => {
    const deleted = await db('notes')
      .where({ id: parseId(req.params.id) })
      .delete();
    if (deleted === 0) throw httpError(404, 'note not found');
    res.status(204).end();
  });

  return router;
}
