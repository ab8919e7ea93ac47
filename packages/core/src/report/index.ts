export {
  type CollectReportOptions,
  collectReport,
  type ReportData,
  type ReportEntry,
  type ReportImage,
  type ReportMissing,
  type ReportStatus,
  type ReportStored,
  type ReportUsage,
} from './collect-report.js'
export { makeThumbnail, THUMBNAIL_MAX_SIDE, type Thumbnail } from './make-thumbnail.js'
export { formatBytes, type RenderReportOptions, renderReport } from './render-report.js'
export { DEFAULT_REPORT_FILE, type WriteReportOptions, writeReport } from './write-report.js'
