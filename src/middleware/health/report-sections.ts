import { checkString, optionError } from '../../options.js';

/** A section added to /api/status and /api/health for callers allowed to see details. */
export type ReportSection = () => Promise<unknown>;

/** The sections added with `addReportSection()`, appended to the JSON bodies of status and health. */
export class ReportSections {
  private readonly sections = new Map<string, ReportSection>();

  get empty(): boolean {
    return this.sections.size === 0;
  }

  add(name: string, provider: ReportSection): void {
    checkString('health.addReportSection', 'name', name);
    if (typeof provider !== 'function') throw optionError('health.addReportSection', 'provider', 'an async function', provider);
    this.sections.set(name, provider);
  }

  /**
   * `body` (a JSON object) with `,"name":{…}` added for each section; unchanged when there
   * are none or `details` is false. A provider that throws gives `null`, never a failed answer.
   */
  async appendTo(body: string, details: boolean): Promise<string> {
    if (this.sections.size === 0 || !details) return body;
    const parts = await Promise.all(
      [...this.sections].map(async ([name, provider]) => {
        try {
          return `,${JSON.stringify(name)}:${JSON.stringify((await provider()) ?? null)}`;
        } catch {
          return `,${JSON.stringify(name)}:null`;
        }
      }),
    );
    return `${body.slice(0, -1)}${parts.join('')}}`;
  }
}
