import { mkdir } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { reasonOf } from '../cache/fs-util.js'
import { commitTemp, writeTemp } from '../cache/index.js'
import { fluxError } from '../errors.js'
import { type CollectReportOptions, collectReport, type ReportData } from './collect-report.js'
import { renderReport } from './render-report.js'

/** The report's file name when none is given, in the project root. */
export const DEFAULT_REPORT_FILE = 'flux-report.html'

export interface WriteReportOptions extends CollectReportOptions {
  /** @default '<root>/flux-report.html' */
  out?: string
}

/**
 * Collects and renders the report, then writes it atomically (temporary file, then rename) to
 * `out`, creating its folder. Resolves to the absolute path written and what it shows. Write
 * failures throw FLUX_REPORT_WRITE.
 */
export async function writeReport(options: WriteReportOptions): Promise<{ path: string; data: ReportData }> {
  const path = resolve(options.flux.options.root, options.out ?? DEFAULT_REPORT_FILE)
  const data = await collectReport(options)
  const html = renderReport(data, { secret: options.flux.options.apiKey })
  try {
    await mkdir(dirname(path), { recursive: true })
    await commitTemp(await writeTemp(dirname(path), html), path)
  } catch (err) {
    throw fluxError('FLUX_REPORT_WRITE', { path, reason: reasonOf(err) }, { cause: err })
  }
  return { path, data }
}
