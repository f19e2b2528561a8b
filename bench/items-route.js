// @ts-check
// The user route every benchmark server answers: a small JSON body, like a real API's.

/** @param {import('express').Request} _req @param {import('express').Response} res */
export function itemsRoute(_req, res) {
  res.json({
    items: [
      { id: 1, name: 'one' },
      { id: 2, name: 'two' },
    ],
    pid: process.pid,
  });
}
