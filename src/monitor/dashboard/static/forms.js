// Forms ↔ API bodies. The browser's own validation is off (novalidate): the API's
// messages are the ones shown, next to their fields.

/** The body of a form, for a create (`editing` false) or an update (true). */
export function readForm(form, editing) {
  const body = {};
  for (const input of form.querySelectorAll('input[name], select[name]')) {
    const { name } = input;
    if (input.type === 'checkbox') {
      body[name] = input.checked;
      continue;
    }
    const raw = input.value.trim();
    const optional = input.dataset.optional;
    if (raw === '') {
      // Empty: a default applies (left out), a nullable field is cleared, a required one is
      // left out on create ("required") and sent as null on update ("may not be null").
      if (optional === 'default') continue;
      if (optional === 'null') body[name] = null;
      else if (input.dataset.type === 'list') body[name] = [];
      else if (editing) body[name] = null;
      continue;
    }
    const type = input.dataset.type;
    if (type === 'integer') body[name] = /^-?\d+$/.test(raw) ? Number(raw) : raw;
    else if (type === 'number') body[name] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
    else if (type === 'list')
      body[name] = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    // Anything that is not a number goes as typed, so the API says what is wrong with it.
    else body[name] = raw;
  }
  return body;
}

/** Fills a form from an object (a server or a notification config). */
export function fillForm(form, values) {
  for (const input of form.querySelectorAll('input[name], select[name]')) {
    const value = values[input.name];
    if (input.type === 'checkbox') input.checked = value === undefined ? input.defaultChecked : Boolean(value);
    else if (input.type === 'password') input.value = '';
    else if (Array.isArray(value)) input.value = value.join(', ');
    else input.value = value === undefined || value === null ? '' : String(value);
    if (input.tagName === 'SELECT' && input.selectedIndex < 0) input.selectedIndex = 0;
  }
}

export function clearErrors(form) {
  for (const p of form.querySelectorAll('[data-error-for]')) p.textContent = '';
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
}

function messages(value) {
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(' ');
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** Shows an ApiError's body: each field's messages under the field, the rest at the top of the form. */
export function showErrors(form, error) {
  clearErrors(form);
  const body = error.body && typeof error.body === 'object' ? error.body : {};
  const top = [];
  if (error.status !== 400 || typeof body.detail === 'string') top.push(typeof body.detail === 'string' ? body.detail : error.message);
  for (const [field, value] of Object.entries(body)) {
    if (field === 'detail' || field === 'code') continue;
    const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    const input = form.elements.namedItem(field);
    if (slot && field !== '_form') {
      slot.textContent = messages(value);
      if (input && 'setAttribute' in input) {
        input.setAttribute('aria-invalid', 'true');
        if (slot.id === '') slot.id = `${form.id}-${field}-error`;
        input.setAttribute('aria-describedby', slot.id);
      }
    } else {
      top.push(field === 'non_field_errors' ? messages(value) : `${field}: ${messages(value)}`);
    }
  }
  form.querySelector('[data-error-for="_form"]').textContent = top.join(' ');
  form.querySelector('[aria-invalid="true"]')?.focus();
}
